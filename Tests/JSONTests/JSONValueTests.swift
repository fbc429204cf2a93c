import JSON
import Testing

@Suite("JSON values")
struct JSONValueTests {
    @Test("parse and write round trip, keys sorted, escapes kept")
    func roundTrip() throws {
        let text = #"{"b":[1,-2,3.5,true,false,null],"a":"x\"y\\z\n\t\u0001é😀","c":{}}"#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value.object?["a"] == .string("x\"y\\z\n\t\u{01}é😀"))
        #expect(value.object?["b"] == [1, -2, .double(3.5), true, false, nil])
        #expect(String(decoding: value.serialized(), as: UTF8.self)
            == #"{"a":"x\"y\\z\n\t\u0001é😀","b":[1,-2,3.5,true,false,null],"c":{}}"#)
        #expect(try JSONValue.parse(Array(#""\ud83d\ude00""#.utf8)) == "😀")
        #expect(try JSONValue.parse(Array(" 42 ".utf8)) == 42)
        #expect(try JSONValue.parse(Array("1e3".utf8)) == .double(1000))
        #expect(try JSONValue.parse(Array("-0".utf8)) == 0)
        #expect(try JSONValue.parse(Array("0.5e-2".utf8)) == .double(0.005))
        #expect(try JSONValue.parse(Array("[0,-0.0,10E+2]".utf8)) == .array([0, .double(-0.0), .double(1000)]))
    }

    @Test("hostile input is an error, not a crash", arguments: [
        "", "{", "[1,", #"{"a" 1}"#, "tru", "01x", #""\ud800""#, #""\x""#, "{} {}", "\u{1}",
        String(repeating: "[", count: 100_000),
        // RFC 8259's number grammar; a number no double holds; a key given twice.
        "0123", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "1.e3", "1e400", "-1e400", #"{"a":1,"a":2}"#,
    ])
    func rejects(_ text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test("invalid UTF-8 inside a string is refused")
    func invalidUTF8() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
    }

    @Test("strings are written as Foundation's JSONEncoder wrote them for gatewayctl --json: short escapes, slashes and DEL as they are")
    func escapes() {
        let text = "a\u{08}b\u{0C}c/d\u{7F}e\u{01}\u{1F}\"\\\n\r\té\u{2028}"
        #expect(String(decoding: JSONValue.string(text).serialized(), as: UTF8.self)
            == #""a\bb\fc/d\#u{7F}e\u0001\u001f\"\\\n\r\té\#u{2028}""#)
    }
}

@testable import gatewayctl
import GatewayWire
import Testing

@Suite("gatewayctl events as text")
struct EventLineTests {
    @Test("one event is one line: a value holding a newline, a space, a quote or '=' is quoted, so it cannot forge another event")
    func quoted() {
        let forged = Output.eventLine(.reply(platform: "irc", chat: "#ops", text: "done\nstate state=stopping"))
        #expect(forged == #"reply chat=#ops platform=irc text="done\nstate state=stopping""#)
        #expect(!forged.contains("\n"))
        #expect(Output.eventLine(.message(session: "irc:group:#ops", route: "exec")) == "message route=exec session=irc:group:#ops")
        #expect(Output.eventLine(.reply(platform: "webhook", chat: "", text: "a=b")) == #"reply chat="" platform=webhook text="a=b""#)
    }

    @Test("bidirectional overrides and line separators are escaped on a terminal like other controls")
    func bidi() {
        #expect(Output.escapingControls("abc\u{202E}fed\u{2028}x", when: true) == #"abc\u{202E}fed\u{2028}x"#)
        #expect(Output.escapingControls("abc\u{202E}", when: false) == "abc\u{202E}")
    }
}

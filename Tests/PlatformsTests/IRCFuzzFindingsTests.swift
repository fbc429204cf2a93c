@testable import Platforms
import Testing

/// What the irc fuzz target (Fuzz/FuzzIRC) found: each input is also in Fuzz/corpus/irc,
/// replayed by the corpus tests.
@Suite("IRC lines: what the fuzzer found")
struct IRCFuzzFindingsTests {
    @Test("a combining mark after a separator (`:`, a space, `!`) does not hide the separator")
    func combiningMarkAfterSeparator() throws {
        // The trailing parameter starts with an accent: one parameter, spaces and all, no colon.
        let trailing = try #require(IRCMessage(line: ":alice!a@host PRIVMSG #gw :\u{301}hello there world"))
        #expect(trailing.parameters == ["#gw", "\u{301}hello there world"])
        // A space followed by an accent still separates the words.
        let words = try #require(IRCMessage(line: "PRIVMSG \u{301}#gw :x"))
        #expect(words.command == "PRIVMSG")
        #expect(words.parameters == ["\u{301}#gw", "x"])
        // The nick ends at `!` whatever follows it.
        let nick = try #require(IRCMessage(line: ":alice!\u{301}a@host PRIVMSG #gw :x"))
        #expect(nick.senderNick == "alice")
        #expect(nick.prefix == "alice!\u{301}a@host")
        // A tag's escape and separator followed by an accent.
        let tags = try #require(IRCMessage(line: "@account=al\\s\u{301}ice;\u{301}x=1 :n!u@h PRIVMSG #gw :x"))
        #expect(tags.tags["account"] == "al \u{301}ice")
        #expect(tags.tags["\u{301}x"] == "1")
        // What the gateway writes with such a text reads back the same.
        let sent = IRCMessage(command: "PRIVMSG", parameters: ["#gw", "\u{301} a b"])
        let line = String(decoding: try sent.encoded().readableBytesView.dropLast(2), as: UTF8.self)
        #expect(IRCMessage(line: line)?.parameters == sent.parameters)
    }
}

import GatewayCore
import Testing

@Suite("Access entries: IRC accounts and masks, never a bare nick for admins")
struct AccessEntryTests {
    private func irc(_ user: String, account: String? = nil, mask: String? = nil) -> InboundMessage {
        InboundMessage(platform: "irc", chat: user, user: user, text: "x", account: account, hostmask: mask)
    }

    @Test("irc:~ACCOUNT matches the account tag only; irc:NICK!USER@HOST with wildcards, rfc1459 case-insensitive")
    func matching() throws {
        let account = try AccessEntry(parsing: "irc:~Alice")
        #expect(account.matches(irc("whoever", account: "alice")))
        #expect(!account.matches(irc("alice")), "no account tag: not the account, whatever the nick")
        #expect(!account.matches(irc("alice", account: "alice2")))
        let mask = try AccessEntry(parsing: "irc:alice!*alice@*.trusted.example")
        #expect(mask.matches(irc("alice", mask: "ALICE!~alice@host.trusted.example")))
        #expect(!mask.matches(irc("alice", mask: "alice!~mallory@host.trusted.example")))
        #expect(!mask.matches(irc("alice", mask: "alice!alice@trusted.example.evil")))
        #expect(!mask.matches(irc("alice")), "no prefix, nothing to match")
        let question = try AccessEntry(parsing: "irc:b?b!u@h")
        #expect(question.matches(irc("bob", mask: "bob!u@h")) && !question.matches(irc("boob", mask: "boob!u@h")))
        #expect(try AccessEntry(parsing: "irc:[ops]!u@h").matches(irc("{ops}", mask: "{OPS}!u@h")), "rfc1459: [] are {}")
        #expect(try AccessEntry(parsing: "irc:Alice").matches(irc("alice")), "a bare nick in allowed_users, any case")
        #expect(try AccessEntry(parsing: "webhook:Bob").matches(InboundMessage(platform: "webhook", chat: "c", user: "Bob", text: "")))
        #expect(!(try AccessEntry(parsing: "webhook:Bob").matches(InboundMessage(platform: "webhook", chat: "c", user: "bob", text: ""))))
        #expect(IRCCasemapping.wildcardMatch("*a*a*a*a*a*b", String(repeating: "a", count: 5000)) == false, "no blow-up")
    }

    @Test("a bare irc:NICK in admins is an error with key path and line; bad IRC entries too")
    func loadErrors() {
        let outcome = ConfigLoader.parse("""
            access:
              allowed_users: ["irc:alice", "irc:~", "irc:a!b", "irc:a b"]
              admins:
                - irc:~alice
                - irc:alice
                - "irc:bob!bob@host"
            """)
        let errors = outcome.errors.map(\.description)
        #expect(errors.count == 4, "\(errors)")
        #expect(errors.contains { $0.hasPrefix(#"access.admins: "irc:alice" names an IRC nick"#) && $0.contains("irc:~ACCOUNT")
            && $0.contains("nick!user@host") && $0.hasSuffix("(line 5)") })
        #expect(errors.contains { $0.hasPrefix(#"access.allowed_users: "irc:~""#) && $0.hasSuffix("(line 2)") })
        #expect(errors.contains { $0.hasPrefix(#"access.allowed_users: "irc:a!b""#) })
        #expect(errors.contains { $0.hasPrefix(#"access.allowed_users: "irc:a b""#) })
    }

    @Test("the refusal memory stays bounded under 100,000 distinct strangers")
    func refusalMemoryBounded() {
        var notices = RefusalNotices()
        let told = (0..<100_000).filter { notices.shouldTell("irc:s\($0)", now: .milliseconds($0)) }.count
        #expect(told == 100_000, "each new stranger is told once")
        #expect(notices.count == GatewayConstants.refusalNoticeMemory)
        let latest = notices.shouldTell("irc:s99999", now: .milliseconds(100_000))
        #expect(!latest, "the latest are remembered")
        let oldest = notices.shouldTell("irc:s0", now: .milliseconds(100_001))
        #expect(oldest, "the oldest were forgotten: told again, one line")
    }
}

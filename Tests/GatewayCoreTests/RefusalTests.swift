import GatewayCore
import Testing

@Suite("Strangers are told once per interval", .timeLimit(.minutes(1)))
struct RefusalTests {
    @Test("a stranger's direct messages get one refusal per 10 minutes; another stranger gets theirs")
    func oncePerInterval() async throws {
        let clock = ManualClock()
        let d = Dispatcher(config: try config(#"access: {allowed_users: ["irc:alice"]}"#), agent: EchoAgent(), clock: clock)
        await d.markRunning()
        #expect(await send(d, "hi", user: "mallory", chat: "mallory", platform: "irc") == [GatewayText.notAllowed])
        #expect(await send(d, "hi again", user: "mallory", chat: "mallory", platform: "irc") == [])
        #expect(await send(d, "hello", user: "trudy", chat: "trudy", platform: "irc") == [GatewayText.notAllowed])
        clock.advance(by: .seconds(599))
        #expect(await send(d, "still me", user: "mallory", chat: "mallory", platform: "irc") == [])
        clock.advance(by: .seconds(1))
        #expect(await send(d, "ten minutes on", user: "mallory", chat: "mallory", platform: "irc") == [GatewayText.notAllowed])
    }
}

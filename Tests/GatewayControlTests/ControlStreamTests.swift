import Foundation
import GatewayControl
import GatewayCore
import GatewayTestSupport
import GatewayWire
import JSON
import Testing
import Varlink
import VarlinkClient
import VarlinkProtocol

/// `Subscribe` streams end with their connection, whatever the peer does; the local platform can
/// be switched off; once the drain is over, no command or message is taken.
@Suite("io.gatewayd.Gateway streams", .timeLimit(.minutes(1)))
struct ControlStreamTests {
    /// Waits (bounded) until the dispatcher has no observer left: it drops one in a task of its
    /// own after the stream ends, and nothing announces that.
    static func observersGone(_ dispatcher: Dispatcher) async -> Int {
        for _ in 0..<3000 {
            let count = await dispatcher.observerCount
            if count == 0 { return 0 }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await dispatcher.observerCount
    }

    @Test("1,000 connect-Subscribe-disconnect cycles (some oneway) leave no observer and no task behind")
    func subscribeCycles() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        let socket = gateway.socket
        try await onThread {
            let subscribe = Wire.Method.subscribe.qualified
            for index in 0..<1000 {
                let connection = try VarlinkConnection(path: socket, timeout: .seconds(30))
                if index % 10 == 9 {
                    // oneway with more: refused, the connection is closed.
                    try connection.send(VarlinkCall(method: subscribe, oneway: true, more: true))
                    #expect(throws: VarlinkClientError.self) { try connection.receive() }
                } else {
                    try connection.send(VarlinkCall(method: subscribe, more: true))
                    // Subscribed (the status came), then gone without a word; no event follows.
                    guard try connection.receive().parameters["status"] != nil else { throw CycleError() }
                }
            }
        }
        await gateway.server.quiesced()
        #expect(gateway.server.streamCount == 0)
        #expect(gateway.server.connectionTaskCount == 0)
        #expect(await Self.observersGone(gateway.dispatcher) == 0)
    }

    struct CycleError: Error {}

    @Test("a subscriber that stops reading while events flow is disconnected; its observer goes")
    func subscriberThatStopsReading() async throws {
        var configuration = VarlinkServer.Configuration()
        configuration.maxUnwrittenOutput = 32 << 10
        let gateway = try await Gateway.start(configuration: configuration)
        defer { Task { await gateway.stop() } }
        let socket = gateway.socket, server = gateway.server
        let sent = try await onThread { () throws -> Int in
            let subscriber = try VarlinkConnection(path: socket, timeout: .seconds(30))
            try subscriber.send(VarlinkCall(method: Wire.Method.subscribe.qualified, more: true))
            _ = try subscriber.receive()
            #expect(server.streamCount == 1)
            // Events flow (a message and its counters per call); the subscriber reads none of them.
            let sender = try VarlinkConnection(path: socket, timeout: .seconds(30))
            let message = VarlinkCall(method: Wire.Method.sendMessage.qualified, parameters: ["text": "hi"])
            var sent = 0
            while server.streamCount > 0 && sent < 20_000 {
                _ = try sender.call(message)
                sent += 1
            }
            return sent
        }
        #expect(gateway.server.streamCount == 0, "still streaming after \(sent) messages")
        #expect(await Self.observersGone(gateway.dispatcher) == 0)
    }

    @Test("SendMessage is refused with PlatformDisabled while platforms.local.enabled is false")
    func localPlatformDisabled() async throws {
        let gateway = try await Gateway.start(yaml: "platforms: {local: {enabled: false}}\n" + Gateway.yaml)
        defer { Task { await gateway.stop() } }
        let refused = try await gateway.call(.sendMessage, ["text": "/hello"])
        #expect(refused.error == Wire.Failure.Name.platformDisabled)
        #expect(refused.parameters["platform"] == "local")
        #expect(await gateway.dispatcher.sessionSnapshots().isEmpty, "nothing reached the dispatcher")
        let ctl = try await gateway.ctl(["send", "hello"])
        #expect(ctl.status == 1)
        #expect(ctl.standardError == "gatewayctl: \(GatewayText.localPlatformDisabled); enable it with platforms.local.enabled: true and reload\n")
        // Quick commands (the operator's tools) still run; a reload that enables it again lets messages in.
        #expect(try await gateway.call(.runQuickCommand, ["name": "hello"]).parameters["output"] == "hello")
        try gateway.writeConfig(Gateway.yaml)
        // A text is for a check only: without check: true it is refused, not ignored while the
        // daemon's own file is applied (here: messages stay disabled).
        for parameters: [String: JSONValue] in [["config_text": "a: 1"], ["config_text": "a: 1", "check": false]] {
            let textWithoutCheck = try await gateway.call(.reload, parameters)
            #expect(textWithoutCheck.error == VarlinkError.invalidParameter)
            #expect(textWithoutCheck.parameters["parameter"] == "config_text")
        }
        #expect(try await gateway.call(.sendMessage, ["text": "hi"]).error == Wire.Failure.Name.platformDisabled, "nothing was applied")
        #expect(try await gateway.call(.reload).error == nil)
        #expect(try await gateway.call(.sendMessage, ["text": "hi"]).parameters["replies"] == ["echo: hi"])
        // The interface file documents the error.
        #expect(gateway.interface.definition.contains("error PlatformDisabled (platform: string, message: string)"))
    }

    @Test("RunQuickCommand and SendMessage work while draining and are refused with Stopping once the drain is over")
    func refusedWhileStopping() async throws {
        let gateway = try await Gateway.start()
        defer { Task { await gateway.stop() } }
        #expect(await gateway.dispatcher.beginDrain(.restart))
        #expect(try await gateway.call(.runQuickCommand, ["name": "hello"]).parameters["output"] == "hello")
        #expect(try await gateway.call(.sendMessage, ["text": "/hello"]).parameters["replies"] == ["hello"])
        await gateway.dispatcher.waitUntilDrained()
        await gateway.dispatcher.markStopping()
        let message = JSONValue.string(GatewayText.stoppingRefusal(.restart))
        #expect(try await gateway.call(.runQuickCommand, ["name": "hello"])
            == .error(Wire.Failure.Name.stopping, ["reason": "restart", "message": message]))
        #expect(try await gateway.call(.sendMessage, ["text": "/hello"])
            == .error(Wire.Failure.Name.stopping, ["reason": "restart", "message": message]))
        #expect(try await gateway.call(.runQuickCommand, ["name": "nope"]).error == Wire.Failure.Name.stopping)
        #expect(await gateway.dispatcher.snapshot.counters.execRunning == 0)
        let ctl = try await gateway.ctl(["quick", "run", "hello"])
        #expect(ctl.status == 125, "not run, as timeout(1) says it")
        #expect(ctl.standardError == "gatewayctl: \(GatewayText.stoppingRefusal(.restart))\n")
        let send = try await gateway.ctl(["send", "hello"])
        #expect(send.status == 1)
        #expect(send.standardError == "gatewayctl: \(GatewayText.stoppingRefusal(.restart))\n")
        #expect(GatewayText.stoppingRefusal(.stop) != GatewayText.stoppingRefusal(.restart))
        #expect(gateway.interface.definition.contains("error Stopping (reason: string, message: string)"))
    }
}

import GatewayCore
import GatewayTestSupport
import Testing

@Suite("Lifecycle states")
struct LifecycleTests {
    @Test("legal moves")
    func legal() {
        let moves: [(GatewayState, GatewayState)] = [
            (.starting, .running), (.running, .reloading), (.reloading, .running),
            (.running, .draining(.stop)), (.running, .draining(.restart)), (.running, .draining(.admin)),
            (.draining(.admin), .running), (.draining(.admin), .draining(.stop)), (.draining(.admin), .draining(.restart)),
            (.draining(.stop), .stopping(.stop)), (.draining(.restart), .stopping(.restart)),
            (.running, .stopping(.stop)), (.starting, .stopping(.stop)),
        ]
        for (from, to) in moves { #expect(from.canMove(to: to), "\(from) -> \(to)") }
    }

    @Test("illegal moves are refused")
    func illegal() {
        let moves: [(GatewayState, GatewayState)] = [
            (.starting, .draining(.stop)), (.starting, .reloading), (.draining(.stop), .running),
            (.draining(.restart), .draining(.admin)), (.draining(.stop), .draining(.restart)),
            (.stopping(.stop), .running), (.stopping(.stop), .draining(.stop)), (.draining(.stop), .stopping(.restart)),
            (.running, .starting), (.reloading, .reloading),
        ]
        for (from, to) in moves { #expect(!from.canMove(to: to), "\(from) -> \(to)") }
        var machine = LifecycleMachine()
        let moved = machine.moveIfLegal(to: .draining(.admin))
        #expect(!moved)
        #expect(machine.state == .starting)
    }

    @Test("an illegal move is a programming error: the process traps", .ownThread)
    func illegalTraps() throws {
        let child = try TestChild([TestPaths.testHelper, "illegal-move"], standardOutput: .pipe, standardError: .null)
        let output = child.readToEnd().standardOutput
        let status = child.wait()
        #expect(status > 128, "exit status \(status): it went on to say \(String(decoding: output, as: UTF8.self).debugDescription)")
        #expect(output.isEmpty)
    }

    @Test("fixed names and reasons")
    func names() {
        #expect(GatewayState.draining(.restart).name == "draining")
        #expect(GatewayState.draining(.restart).reason == .restart)
        #expect(GatewayState.stopping(.stop).name == "stopping")
        #expect(DrainReason.allCases.map(\.gerund) == ["shutting down", "restarting", "draining"])
    }
}

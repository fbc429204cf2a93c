import GatewayCore
import GatewayTestSupport
import Testing

/// `exec.max_concurrent` changed by a reload, with real processes held open by the test: the
/// commands already running keep counting against the new limit (a reload used to give the
/// dispatcher a fresh runner that counted from zero, so a lowered limit could be exceeded).
@Suite("exec.max_concurrent on reload", .timeLimit(.minutes(1)))
struct ExecLimitReloadTests {
    /// `/hold STARTED GATE`: says "go" on one FIFO, then runs until the test writes a line to the other.
    static func yaml(limit: Int) -> String {
        """
        exec: {max_concurrent: \(limit)}
        quick_commands:
          hold: {type: exec, command: 'echo go > "$1"; read line < "$2"; echo released', args: pass}
          quick: {type: exec, command: "echo ran"}
        """
    }

    /// A `/hold` command running in the dispatcher, and the FIFOs that hold it.
    struct Held {
        let started = FIFOSignal(), gate = FIFOSignal()
        let task: Task<[String], Never>

        init(_ dispatcher: Dispatcher) async throws {
            let (started, gate) = (self.started, self.gate)
            task = Task { await send(dispatcher, "/hold \(started.path) \(gate.path)") }
            let line = await started.waitForLine()
            try #require(line == "go", "the held command did not start")
        }

        /// Lets it end; returns its reply.
        func release() async -> [String] {
            gate.send("release")
            return await task.value
        }
    }

    @Test("limit 4, 4 running, reloaded to 2: nothing new starts until only 1 runs; raising it lets the next one start at once")
    func lowered() async throws {
        let d = Dispatcher(config: try config(Self.yaml(limit: 4)), agent: EchoAgent())
        await d.markRunning()
        var held: [Held] = []
        for _ in 0..<4 { held.append(try await Held(d)) }
        let busy = [GatewayText.execBusy(limit: 2)]
        #expect(await send(d, "/quick") == [GatewayText.execBusy(limit: 4)], "4 of 4 run")

        await d.reload(try config(Self.yaml(limit: 2)))
        #expect(await send(d, "/quick") == busy, "4 still run: above the new limit of 2")
        #expect(await held[0].release() == ["released"], "the running ones carry on")
        #expect(await send(d, "/quick") == busy, "3 run")
        #expect(await held[1].release() == ["released"])
        #expect(await send(d, "/quick") == busy, "2 run: at the new limit")
        #expect(await held[2].release() == ["released"])
        #expect(await send(d, "/quick") == ["ran"], "1 runs: below the limit, a new one starts")

        // At the limit again (2 of 2), then raised: the next one starts without waiting.
        held.append(try await Held(d))
        #expect(await send(d, "/quick") == busy)
        await d.reload(try config(Self.yaml(limit: 3)))
        #expect(await send(d, "/quick") == ["ran"])
        held.append(try await Held(d))
        #expect(await send(d, "/quick") == [GatewayText.execBusy(limit: 3)])
        for index in 3..<held.count { #expect(await held[index].release() == ["released"]) }
        #expect(await send(d, "/quick") == ["ran"])
    }
}

import NIOConcurrencyHelpers
import Foundation
import GatewayCore
import GatewayTestSupport
import Testing

/// The reference gateway's quick-command behaviour, as exact strings, through the dispatcher and
/// the real ProcessRunner.
@Suite("Quick commands", .timeLimit(.minutes(1)))
struct QuickCommandTests {
    let yaml = """
        quick_commands:
          hello: {type: exec, command: "echo hello; echo ignored >&2"}
          errs: {type: exec, command: "echo only-stderr >&2; exit 3"}
          silent: {type: exec, command: "true"}
          blank: {type: exec, command: "printf '\\\\n\\\\n'"}
          slow: {type: exec, command: "sleep 30", timeout: 300ms}
          argv: {type: exec, command: 'printf "[%s]" "$@"'}
          passed: {type: exec, command: 'printf "[%s]" "$@"', args: pass}
          bytes: {type: exec, command: "printf 'ok\\\\377\\\\376'"}
          env: {type: exec, command: 'echo "$GATEWAY_PLATFORM $GATEWAY_USER $GATEWAY_SESSION $GATEWAY_CHAT"'}
          missing: {type: exec, command: "/nonexistent/binary"}
          status: {type: exec, command: "echo shadowed"}
          empty: {type: exec, command: ""}
          nowhere: {type: alias}
          st: {type: alias, target: /status}
          hi: {type: alias, target: hello}
          p2: {type: alias, target: "/passed first"}
          loop1: {type: alias, target: /loop2}
          loop2: {type: alias, target: /loop1}
        exec:
          max_output: 64
          default_timeout: 30s
        """

    func dispatcher() throws -> Dispatcher {
        var settings = try config(yaml)
        // An unknown type is refused at load now (`type: shell` is a config error); a
        // configuration built otherwise still gets the reference's reply for it.
        settings.quickCommands["weird"] = QuickCommand(name: "weird", kind: .invalid(reply: GatewayText.unsupportedType("weird")))
        return Dispatcher(config: settings, agent: EchoAgent())
    }

    @Test("stdout, stderr fallback, no output, timeout, and the fixed error texts")
    func referenceReplies() async throws {
        let d = try dispatcher()
        await d.markRunning()
        #expect(await send(d, "/hello") == ["hello"])
        #expect(await send(d, "/errs") == ["only-stderr"])
        #expect(await send(d, "/silent") == ["Command returned no output."])
        #expect(await send(d, "/blank") == ["Command returned no output."])
        #expect(await send(d, "/slow") == ["Quick command timed out (1s)."])
        #expect(await send(d, "/empty") == ["Quick command '/empty' has no command defined."])
        #expect(await send(d, "/nowhere") == ["Quick command '/nowhere' has no target defined."])
        #expect(await send(d, "/weird") == ["Quick command '/weird' has unsupported type (supported: 'exec', 'alias')."])
        #expect(await send(d, "/nope") == [
            "Unknown command `/nope`. Type /commands to see what's available, or resend without the leading slash to send as a regular message.",
        ])
        #expect(await send(d, "/missing").first?.contains("/nonexistent/binary") == true)
    }

    @Test("a built-in always beats a quick command of the same name")
    func builtinWins() async throws {
        let d = try dispatcher()
        await d.markRunning()
        let reply = await send(d, "/status")
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("gatewayd \(GatewayConstants.version): running") == true)
        #expect(reply.first?.contains("shadowed") == false)
    }

    @Test("user arguments are ignored unless args: pass, then arrive verbatim")
    func arguments() async throws {
        let d = try dispatcher()
        await d.markRunning()
        // printf with no arguments prints its format once: "[]", not "[a][b]".
        #expect(await send(d, "/argv a b") == ["[]"])
        #expect(await send(d, "/passed a $(id) ;x") == ["[a][$(id)][;x]"])
    }

    @Test("invalid UTF-8 becomes U+FFFD; long output is capped and says so")
    func bytesAndCap() async throws {
        let d = try dispatcher()
        await d.markRunning()
        #expect(await send(d, "/bytes") == ["ok\u{FFFD}\u{FFFD}"])
        let long = Dispatcher(config: try config("quick_commands: {long: {type: exec, command: 'seq 1 1000'}}\nexec: {max_output: 20}"),
                              agent: EchoAgent())
        await long.markRunning()
        #expect(await send(long, "/long") == ["1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n… (output truncated at 20 bytes)"])
    }

    @Test("the command sees who asked, and nothing of the daemon")
    func environment() async throws {
        let d = try dispatcher()
        await d.markRunning()
        #expect(await send(d, "/env", user: "bob", chat: "ops") == ["local bob local:dm:ops ops"])
    }

    @Test("aliases rewrite with the user's arguments; a loop is an error reply, not a hang")
    func aliases() async throws {
        let d = try dispatcher()
        await d.markRunning()
        #expect(await send(d, "/st").first?.hasPrefix("gatewayd ") == true)
        #expect(await send(d, "/hi") == ["hello"])
        #expect(await send(d, "/p2 second") == ["[first][second]"])
        #expect(await send(d, "/loop1") == [
            "Quick command alias loop: /loop1 → /loop2 → /loop1 → /loop2 → /loop1 → /loop2 → /loop1 → /loop2 → /loop1 (more than 8 rewrites).",
        ])
    }

    @Test("/commands lists built-ins and quick commands; a reload removes what is gone")
    func reloadChangesOffer() async throws {
        let d = try dispatcher()
        await d.markRunning()
        #expect(await send(d, "/commands").first?.contains("/hello") == true)
        await d.reload(try config("quick_commands: {fresh: {type: exec, command: 'echo fresh'}}"))
        #expect(await send(d, "/commands").first?.contains("/hello") == false)
        #expect(await send(d, "/hello").first?.hasPrefix("Unknown command `/hello`") == true)
        #expect(await send(d, "/fresh") == ["fresh"])
        #expect(await d.state == .running)
    }

    @Test("RunQuickCommand reports status and output before the chat wording")
    func runQuickCommandReport() async throws {
        let d = try dispatcher()
        await d.markRunning()
        guard case .finished(let report)? = await d.runQuickCommand(named: "errs", arguments: [], context: message("")) else {
            Issue.record("not run")
            return
        }
        #expect(report.exitStatus == 3)
        #expect(report.output == "only-stderr")
        #expect(!report.timedOut)
        #expect(await d.runQuickCommand(named: "nope", arguments: [], context: message("")) == nil)
    }

    @Test("past exec.max_concurrent the reply says busy")
    func busyLimit() async throws {
        let gate = FIFOSignal()
        let d = Dispatcher(config: try config("""
            quick_commands: {hold: {type: exec, command: 'read line < \(gate.path); echo released'}}
            exec: {max_concurrent: 1}
            """), agent: EchoAgent())
        await d.markRunning()
        let events = await d.subscribe()
        async let first = send(d, "/hold")
        for await event in events {
            if case .quickCommandStarted = event { break }
        }
        #expect(await send(d, "/hold") == ["⏳ 1 quick commands are already running; try again in a moment."])
        gate.send("go")
        #expect(await first == ["released"])
    }

    @Test("a running exec quick command is announced while it runs; every one is started before finished; a status reader sees no records")
    func announcements() async throws {
        let gate = FIFOSignal()
        let d = Dispatcher(config: try config("""
            quick_commands:
              hold: {type: exec, command: 'read line < \(gate.path); echo released'}
              hi: {type: exec, command: 'echo hi'}
            """), agent: EchoAgent())
        await d.markRunning()
        let records = NIOLockedValueBox<[GatewayEvent]>([])
        await d.observe { event in records.withLockedValue { $0.append(event) } }
        let status = await d.subscribe { !$0.isRecord }
        async let held = send(d, "/hold")
        var seen: [GatewayEvent] = []
        for await event in status {
            seen.append(event)
            if case .countersChanged(let counters) = event, counters.execRunning == 1 { break }
        }
        // Announced while it still runs: it is waiting for the gate.
        #expect(records.withLockedValue { $0 }.contains { if case .quickCommandStarted(name: "hold", _) = $0 { true } else { false } })
        #expect(await send(d, "/hi") == ["hi"])
        gate.send("go")
        #expect(await held == ["released"])
        for await event in status {
            seen.append(event)
            if case .countersChanged(let counters) = event, counters.execRunning == 0 { break }
        }
        #expect(!seen.contains { $0.isRecord })
        let names = records.withLockedValue { $0 }.compactMap { event -> String? in
            switch event {
            case .quickCommandStarted(let name, _): "started \(name)"
            case .quickCommandFinished(let report): "finished \(report.name)"
            default: nil
            }
        }
        #expect(names.count == 4)
        for name in ["hold", "hi"] {
            let started = try #require(names.firstIndex(of: "started \(name)"))
            let finished = try #require(names.firstIndex(of: "finished \(name)"))
            #expect(started < finished, "\(names)")
        }
    }

    @Test("a command announced and then unable to run (E2BIG) ends with a finished event without exit status or signal")
    func announcedThenUnableToRun() async throws {
        let d = try dispatcher()
        await d.markRunning()
        let records = NIOLockedValueBox<[GatewayEvent]>([])
        await d.observe { event in records.withLockedValue { $0.append(event) } }
        // One argument past the kernel's 128 KiB per string: execve refuses it, in the child.
        let outcome = await d.runQuickCommand(named: "passed", arguments: [String(repeating: "x", count: 200_000)],
                                              context: message("/passed"))
        guard case .failed(let error) = outcome else {
            Issue.record("ran: \(String(describing: outcome))")
            return
        }
        #expect(error.code == .spawnFailed && error.errno == E2BIG)
        let events = records.withLockedValue { $0 }
        #expect(events.contains { if case .quickCommandStarted(name: "passed", _) = $0 { true } else { false } })
        let finished = events.compactMap { event -> QuickCommandReport? in
            if case .quickCommandFinished(let report) = event { report } else { nil }
        }
        #expect(finished.count == 1)
        #expect(finished.first?.exitStatus == nil && finished.first?.signal == nil)
        #expect(finished.first?.output.contains("Argument list too long") == true)
    }

}

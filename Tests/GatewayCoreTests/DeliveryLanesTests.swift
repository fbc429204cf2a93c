import GatewayCore
import NIOConcurrencyHelpers
import Testing

@Suite("Delivery lanes: each chat's replies in order, bounded", .timeLimit(.minutes(1)))
struct DeliveryLanesTests {
    @Test("one chat's deliveries run one after another in order; another chat's do not wait for them; an idle lane is gone")
    func orderPerChat() async throws {
        let lanes = DeliveryLanes()
        let log = NIOLockedValueBox<[String]>([])
        let (gate, open) = AsyncStream<Void>.makeStream()
        let (finished, finish) = AsyncStream<String>.makeStream()
        nonisolated(unsafe) var opened = gate.makeAsyncIterator()
        await lanes.enqueue("a") {
            _ = await opened.next()
            log.withLockedValue { $0.append("a1") }
        }
        for index in 2...5 { await lanes.enqueue("a") { log.withLockedValue { $0.append("a\(index)") }; if index == 5 { finish.yield("a") } } }
        await lanes.enqueue("b") { log.withLockedValue { $0.append("b1") }; finish.yield("b") }
        var done = finished.makeAsyncIterator()
        #expect(await done.next() == "b", "b does not wait behind a's blocked delivery")
        #expect(log.withLockedValue { $0 } == ["b1"])
        open.yield()
        #expect(await done.next() == "a")
        #expect(log.withLockedValue { $0 } == ["b1", "a1", "a2", "a3", "a4", "a5"])
        while lanes.active > 0 { await Task.yield() }
    }

    @Test("past maxWaiting deliveries waiting for one chat, the next enqueue returns only once its delivery ran")
    func backpressure() async throws {
        let lanes = DeliveryLanes()
        let (gate, open) = AsyncStream<Void>.makeStream()
        nonisolated(unsafe) var opened = gate.makeAsyncIterator()
        await lanes.enqueue("a") { _ = await opened.next() }
        for _ in 0..<DeliveryLanes.maxWaiting { await lanes.enqueue("a") {} }
        let ran = NIOLockedValueBox(false)
        let blocked = Task {
            await lanes.enqueue("a") { ran.withLockedValue { $0 = true } }
            return ran.withLockedValue { $0 }
        }
        while lanes.waiting("a") <= DeliveryLanes.maxWaiting { await Task.yield() }
        #expect(!ran.withLockedValue { $0 })
        open.yield()
        #expect(await blocked.value, "returned before its delivery ran")
    }

    @Test("waitUntilIdle: false while a delivery runs past the limit, true once the last lane ended")
    func idle() async {
        let lanes = DeliveryLanes()
        #expect(await lanes.waitUntilIdle(within: .zero), "idle from the start")
        let (gate, open) = AsyncStream<Void>.makeStream()
        nonisolated(unsafe) var opened = gate.makeAsyncIterator()
        await lanes.enqueue("a") { _ = await opened.next() }
        await lanes.enqueue("b") {}
        #expect(await !lanes.waitUntilIdle(within: .milliseconds(20)))
        let waiting = Task { await lanes.waitUntilIdle(within: .seconds(30)) }
        open.yield()
        #expect(await waiting.value)
        #expect(lanes.active == 0)
    }

    @Test("a caller cancelled while it waits for room in its lane (a /stop, the drain's interrupt) returns; its delivery still runs")
    func cancelledWaitReturns() async {
        let lanes = DeliveryLanes()
        let (gate, open) = AsyncStream<Void>.makeStream()
        nonisolated(unsafe) var opened = gate.makeAsyncIterator()
        await lanes.enqueue("a") { _ = await opened.next() }
        for _ in 0..<DeliveryLanes.maxWaiting { await lanes.enqueue("a") {} }
        let (ran, ranNow) = AsyncStream<Void>.makeStream()
        let turn = Task { await lanes.enqueue("a") { ranNow.yield() } }
        while lanes.waiting("a") <= DeliveryLanes.maxWaiting { await Task.yield() }
        turn.cancel()
        await turn.value  // a hang here is the failure (the suite's time limit)
        open.yield()
        var delivered = ran.makeAsyncIterator()
        #expect(await delivered.next() != nil, "the cancelled caller's delivery ran")
    }
}

import NIOConcurrencyHelpers
import Synchronization

/// One counter: an atomic add, no lock (the dispatcher's hot path increments these).
package final class CounterCell: Sendable {
    private let count = Synchronization.Atomic<UInt64>(0)

    package init() {}

    package func add(_ amount: UInt64 = 1) { count.add(amount, ordering: .relaxed) }
    package var value: UInt64 { count.load(ordering: .relaxed) }
}

/// A row of counters in one allocation, one per case of a label (a message's route, a run's
/// outcome): counting is one atomic add at an offset, with no counter object to retain.
package final class CounterRow: @unchecked Sendable {
    package let count: Int
    private let counts: UnsafeMutablePointer<Synchronization.Atomic<UInt64>>

    package init(count: Int) {
        self.count = count
        counts = .allocate(capacity: count)
        for index in 0..<count { (counts + index).initialize(to: Synchronization.Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: count)
        counts.deallocate()
    }

    @inline(__always)
    package func add(at index: Int, _ amount: UInt64 = 1) {
        precondition(index >= 0 && index < count)
        counts[index].add(amount, ordering: .relaxed)
    }

    package func value(at index: Int) -> UInt64 { counts[index].load(ordering: .relaxed) }
}

/// A histogram with fixed bounds: one atomic per bucket and one for the sum (in microseconds,
/// so no floating-point atomics), no lock. Rendered cumulative, as Prometheus wants.
package final class HistogramCell: @unchecked Sendable {
    /// Upper bounds in seconds, ascending; `+Inf` is implied.
    package let bounds: [Double]
    private let boundsMicroseconds: [Int64]
    /// `bounds.count + 1` counts, the last one past every bound.
    private let counts: UnsafeMutablePointer<Synchronization.Atomic<UInt64>>
    private let sumMicroseconds = Synchronization.Atomic<UInt64>(0)

    package init(bounds: [Double]) {
        self.bounds = bounds
        boundsMicroseconds = bounds.map { Int64(($0 * 1_000_000).rounded()) }
        counts = .allocate(capacity: bounds.count + 1)
        for index in 0...bounds.count { (counts + index).initialize(to: Synchronization.Atomic(0)) }
    }

    deinit {
        counts.deinitialize(count: bounds.count + 1)
        counts.deallocate()
    }

    package func observe(_ duration: Duration) {
        let microseconds = max(0, DurationValue.microseconds(duration))
        var index = 0
        while index < boundsMicroseconds.count && microseconds > boundsMicroseconds[index] { index += 1 }
        counts[index].add(1, ordering: .relaxed)
        sumMicroseconds.add(UInt64(microseconds), ordering: .relaxed)
    }

    /// Cumulative counts per bound (the last is `+Inf`: the total), and the sum in seconds.
    package var snapshot: (cumulative: [UInt64], sumSeconds: Double) {
        var running: UInt64 = 0
        var cumulative: [UInt64] = []
        cumulative.reserveCapacity(bounds.count + 1)
        for index in 0...bounds.count {
            running += counts[index].load(ordering: .relaxed)
            cumulative.append(running)
        }
        return (cumulative, Double(sumMicroseconds.load(ordering: .relaxed)) / 1_000_000)
    }
}

/// Cells by label values, made on first use. The lookup takes a lock; hot paths keep the cell
/// they got (`Dispatcher.metricCells`), so an increment there is the atomic add alone. At most
/// `limit` label sets, `overflow` among them: past it, new values share the `overflow` one (a backend naming its errors
/// by message must not grow the registry without end).
package final class LabeledCells<Cell: AnyObject & Sendable>: Sendable {
    private let cells = NIOLockedValueBox<(order: [[String]], byLabels: [[String]: Cell])>(([], [:]))
    private let make: @Sendable () -> Cell
    private let limit: Int
    private let overflow: [String]?

    package init(limit: Int = 1_000, overflow: [String]? = nil, make: @escaping @Sendable () -> Cell) {
        self.make = make
        self.limit = limit
        self.overflow = overflow
    }

    package func cell(_ labels: [String]) -> Cell {
        cells.withLockedValue { cells in
            if let cell = cells.byLabels[labels] { return cell }
            let full = cells.order.count >= limit - (overflow == nil || cells.byLabels[overflow!] != nil ? 0 : 1)
            let key = full ? (overflow ?? labels) : labels
            if let cell = cells.byLabels[key] { return cell }
            let cell = make()
            cells.order.append(key)
            cells.byLabels[key] = cell
            return cell
        }
    }

    /// Every label set with its cell, in the order they were first used.
    package var all: [(labels: [String], cell: Cell)] {
        cells.withLockedValue { cells in cells.order.map { ($0, cells.byLabels[$0]!) } }
    }
}

import Synchronization

/// Counts completions down from a start value, for "when all of these are in".
final class Countdown: Sendable {
    private let count: Atomic<Int>

    init(_ count: Int) { self.count = Atomic(count) }

    /// True for the one call that brings the count to zero.
    func decrement() -> Bool { self.count.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}

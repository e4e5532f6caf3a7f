import Synchronization

/// Live figures of one client connection, for the mount's STATUS= lines: requests sent and not
/// yet answered, and requests answered (with a reply, an errno or a connection failure).
/// Updated with relaxed atomics from any thread.
public final class ClientStatistics: Sendable {
    public let inFlight = Atomic<Int>(0)
    public let completed = Atomic<UInt64>(0)

    public init() {}

    func started() { self.inFlight.add(1, ordering: .relaxed) }

    func finished() {
        self.inFlight.subtract(1, ordering: .relaxed)
        self.completed.add(1, ordering: .relaxed)
    }

    /// "2 requests in flight, 1234 served": the figures part of a STATUS= line.
    public var summary: String {
        "\(self.inFlight.load(ordering: .relaxed)) requests in flight, \(self.completed.load(ordering: .relaxed)) served"
    }
}

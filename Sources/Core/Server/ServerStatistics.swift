import Synchronization

/// Live figures for STATUS= lines and logs. Updated with relaxed atomics from any thread.
public final class ServerStatistics: Sendable {
    public let connections = Atomic<Int>(0)
    public let requests = Atomic<UInt64>(0)
    public let inFlight = Atomic<Int>(0)
    public let protocolErrors = Atomic<UInt64>(0)
    /// READ requests served: how a test tells that a cached re-read never reached the server.
    public let reads = Atomic<UInt64>(0)
    /// WRITE requests served: how a test tells that buffered writes were coalesced.
    public let writes = Atomic<UInt64>(0)
    /// READs answered on the event loop from the page cache (`RequestRouter+FastRead`), of `reads`.
    public let readsOnEventLoop = Atomic<UInt64>(0)
    /// Namespace and attribute requests performed on the event loop (`EventLoopRequests`).
    public let requestsOnEventLoop = Atomic<UInt64>(0)

    public init() {}

    /// One line for `STATUS=`: what an operator wants to see in `systemctl status`.
    public var summary: String {
        "\(self.connections.load(ordering: .relaxed)) clients, "
            + "\(self.requests.load(ordering: .relaxed)) requests served, "
            + "\(self.inFlight.load(ordering: .relaxed)) in flight, "
            + "\(self.reads.load(ordering: .relaxed)) reads, "
            + "\(self.writes.load(ordering: .relaxed)) writes, "
            + "\(self.readsOnEventLoop.load(ordering: .relaxed)) reads on the event loop, "
            + "\(self.requestsOnEventLoop.load(ordering: .relaxed)) other requests on the event loop"
    }
}

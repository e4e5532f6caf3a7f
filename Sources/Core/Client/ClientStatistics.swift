import Synchronization

/// Live figures of one client connection, for the mount's STATUS= lines: requests sent and not
/// yet answered, and requests answered (with a reply, an errno or a connection failure).
/// Updated with relaxed atomics from any thread.
public final class ClientStatistics: Sendable {
    public let inFlight = Atomic<Int>(0)
    public let completed = Atomic<UInt64>(0)

    public init() {}

    func started() { self.inFlight.add(1, ordering: .relaxed) }

    /// Told when the last request in flight has been answered (`whenIdle`).
    private let idleHook = Mutex<IdleHook?>(nil)

    /// Calls `action` each time the last request in flight has been answered, just before its
    /// completion runs, on the thread that runs it (the connection's event loop). One at a time:
    /// a later call replaces it, nil removes it.
    public func whenIdle(_ action: (@Sendable () -> Void)?) {
        self.idleHook.withLock { $0 = action.map(IdleHook.init) }
    }

    func finished() {
        if self.inFlight.subtract(1, ordering: .relaxed).newValue == 0, let hook = self.idleHook.withLock({ $0 }) {
            hook.action()
        }
        self.completed.add(1, ordering: .relaxed)
    }

    /// "2 requests in flight, 1234 served": the figures part of a STATUS= line.
    public var summary: String {
        "\(self.inFlight.load(ordering: .relaxed)) requests in flight, \(self.completed.load(ordering: .relaxed)) served"
    }
}

/// The action `ClientStatistics.whenIdle` keeps, boxed. Kept directly in the `Mutex` and copied
/// out with `withLock { $0 }`, the closure was found (Swift 6.3, release build) behind a chain of
/// reabstraction thunks that grew with the calls: queue-depth-1 reads fell to half their rate
/// within seconds.
private final class IdleHook: Sendable {
    let action: @Sendable () -> Void
    init(_ action: @escaping @Sendable () -> Void) { self.action = action }
}

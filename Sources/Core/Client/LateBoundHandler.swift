import Synchronization

/// Where a connection's events go when their consumer is created after the connection: server
/// notices (``NoticeDispatcher``) and session renewals after a server restart
/// (``SessionRenewalRelay``). Created before the connection (which needs somewhere to send
/// events) and pointed at the consumer once it exists; events before that are dropped.
///
/// Locking: `handler` is protected by its mutex, never held while the handler runs.
public final class LateBoundHandler<Event: Sendable>: Sendable {
    private let handler = Mutex<StoredCallback<Event>?>(nil)

    public init() {}

    public func setHandler(_ handler: @escaping @Sendable (Event) -> Void) {
        let stored = StoredCallback(handler)
        self.handler.withLock { $0 = stored }
    }

    public func dispatch(_ event: Event) {
        let handler = self.handler.withLock { $0 }
        handler?.call(event)
    }
}

/// Server notices (INVALIDATE, RECALL, LOCK_GRANTED), to the mount's file system.
public typealias NoticeDispatcher = LateBoundHandler<Frame>

/// A new session after a server restart: the mount gives up its write-back grants, which the new
/// server does not hold for it.
public typealias SessionRenewalRelay = LateBoundHandler<Void>

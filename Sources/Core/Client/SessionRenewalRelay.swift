import Synchronization

/// Tells the mount that its client had to start a new session (the server restarted), so state
/// the old session held on the server — write-back grants — is gone. Created before the
/// connection (whose `ResiliencePolicy` calls it) and pointed at the file system once that exists.
///
/// Locking: `handler` is protected by its mutex, never held while the handler runs.
public final class SessionRenewalRelay: Sendable {
    private let handler = Mutex<(@Sendable () -> Void)?>(nil)

    public init() {}

    public func setHandler(_ handler: @escaping @Sendable () -> Void) {
        self.handler.withLock { $0 = handler }
    }

    public func renewed() {
        let handler = self.handler.withLock { $0 }
        handler?()
    }
}

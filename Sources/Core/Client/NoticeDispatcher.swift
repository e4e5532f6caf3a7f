import Synchronization

/// Where server notices go. Created before the connection (which needs somewhere to send them)
/// and pointed at their consumer once it exists; notices before that are answered by `fallback`.
///
/// Locking: `handler` is protected by its mutex, never held while a handler runs.
public final class NoticeDispatcher: Sendable {
    private let handler = Mutex<(@Sendable (Frame) -> Void)?>(nil)

    public init() {}

    public func setHandler(_ handler: @escaping @Sendable (Frame) -> Void) {
        self.handler.withLock { $0 = handler }
    }

    public func dispatch(_ frame: Frame) {
        let handler = self.handler.withLock { $0 }
        handler?(frame)
    }
}

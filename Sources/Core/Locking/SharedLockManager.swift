import Synchronization

/// The lock manager as the server shares it between event loops: one `LockManager` behind one
/// `Mutex` (STYLE guideline 11).
///
/// Locking: `state` is the only lock-protected field and is protected by its own mutex. Every
/// method takes the mutex once, runs one pure `LockManager` operation and returns its result;
/// nothing inside waits, does I/O or calls out. Callers carry out the returned grants (answer the
/// waiting requests) after the method has returned, so the mutex is never held while replying.
/// Lock ordering: take this mutex last; never call into it from code that holds a lock the server
/// might also take while answering a grant.
public final class SharedLockManager<File: Hashable & Sendable>: Sendable {
    /// The lock table. Protected by its mutex.
    private let state: Mutex<LockManager<File>>

    /// An empty lock table.
    public init() {
        self.state = Mutex(LockManager())
    }

    /// See `LockManager.test(_:)`.
    public func test(_ request: LockRequest<File>) throws(LockError) -> FileLock? {
        try self.state.withLock { (manager) throws(LockError) -> FileLock? in try manager.test(request) }
    }

    /// See `LockManager.lock(_:wait:at:)`.
    public func lock(_ request: LockRequest<File>, wait: Bool, at now: ContinuousClock.Instant) throws(LockError)
        -> LockDecision<File>
    {
        try self.state.withLock { (manager) throws(LockError) -> LockDecision<File> in
            try manager.lock(request, wait: wait, at: now)
        }
    }

    /// See `LockManager.unlock(_:kind:file:range:at:)`.
    public func unlock(
        _ owner: LockOwnerKey,
        kind: LockKind,
        file: File,
        range: ByteRange,
        at now: ContinuousClock.Instant
    ) throws(LockError) -> [LockGrant<File>] {
        try self.state.withLock { (manager) throws(LockError) -> [LockGrant<File>] in
            try manager.unlock(owner, kind: kind, file: file, range: range, at: now)
        }
    }

    /// See `LockManager.cancel(_:at:)`.
    public func cancel(_ ticket: LockTicket, at now: ContinuousClock.Instant) throws(LockError) -> [LockGrant<File>] {
        try self.state.withLock { (manager) throws(LockError) -> [LockGrant<File>] in
            try manager.cancel(ticket, at: now)
        }
    }

    /// See `LockManager.releaseAll(owner:kind:in:at:)`.
    public func releaseAll(
        owner: LockOwnerKey,
        kind: LockKind,
        in file: File? = nil,
        at now: ContinuousClock.Instant
    ) -> [LockGrant<File>] {
        self.state.withLock { manager in manager.releaseAll(owner: owner, kind: kind, in: file, at: now) }
    }

    /// See `LockManager.releaseSession(_:at:)`.
    public func releaseSession(_ session: SessionID, at now: ContinuousClock.Instant) -> [LockGrant<File>] {
        self.state.withLock { manager in manager.releaseSession(session, at: now) }
    }

    /// See `LockManager.snapshot(including:)`. The filter runs under the mutex: keep it cheap and
    /// free of locking.
    public func snapshot(including include: (File) -> Bool = { _ in true }) -> LockSnapshot<File> {
        self.state.withLock { manager in manager.snapshot(including: include) }
    }
}

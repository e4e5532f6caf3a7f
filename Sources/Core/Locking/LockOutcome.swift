/// The answer to one lock request (`LockManager.lock(_:wait:at:)`).
public enum LockOutcome: Hashable, Sendable, CustomStringConvertible {
    /// The lock is held now.
    case granted
    /// A non-blocking request (`F_SETLK`) met `conflict`: a lock another holder has, or an earlier
    /// waiting request the queue keeps ahead of this one (FIFO fairness). EAGAIN.
    case wouldBlock(conflict: FileLock)
    /// A blocking request (`F_SETLKW`, a transaction) waits under `ticket`; it will appear in the
    /// `[LockGrant]` some later operation returns, unless it is cancelled first.
    case queued(LockTicket)
    /// A blocking POSIX request would wait for an owner that (transitively) waits for it. Nothing
    /// was queued. EDEADLK.
    case deadlock

    /// The refusal as an error, or nil if the request was granted or queued.
    public var error: LockError? {
        switch self {
        case .granted, .queued:
            return nil
        case .wouldBlock(let conflict):
            return LockError(.wouldBlock, "conflicts with \(conflict)")
        case .deadlock:
            return LockError(.deadlock, "waiting would deadlock")
        }
    }

    public var description: String {
        switch self {
        case .granted: return "granted"
        case .wouldBlock(let conflict): return "would block on \(conflict)"
        case .queued(let ticket): return "queued as \(ticket)"
        case .deadlock: return "deadlock"
        }
    }
}

/// What `LockManager.lock(_:wait:at:)` returns: the outcome of the request itself, and the
/// waiters the request let through. A request can grant waiters when it downgrades or shrinks its
/// holder's locks, for example exclusive to shared over a range others wait to read.
public struct LockDecision<File: Hashable & Sendable>: Hashable, Sendable {
    /// The answer to the request.
    public var outcome: LockOutcome
    /// Waiters granted as a consequence, in the order they were granted.
    public var grants: [LockGrant<File>]

    public init(outcome: LockOutcome, grants: [LockGrant<File>] = []) {
        self.outcome = outcome
        self.grants = grants
    }
}

/// Which API took a lock. The kind decides which other locks it can conflict with and who its
/// owner is; the lock inspector shows it.
///
/// How kinds interact, as on Linux:
///
/// - `transaction` locks are the server's own: a write request holds an exclusive lock and a read
///   request a shared one on its page-aligned range for the duration of its I/O. They conflict
///   only with other transaction locks. POSIX record locks are advisory, so they never delay I/O,
///   and I/O never waits for a record lock.
/// - `posix` (`F_SETLK`, owned by a process) and `ofd` (`F_OFD_SETLK`, owned by an open file
///   description) locks are both record locks and conflict with each other, exactly as Linux
///   keeps them on one list. A POSIX lock and an OFD lock never have the same owner, even when
///   their `LockOwnerKey`s happen to be equal: the owner identity includes the kind.
/// - `flock` locks are whole-file and conflict only with other `flock` locks (Linux keeps them on
///   their own list, so `flock()` and `fcntl()` locks ignore each other).
///
/// Deadlock detection applies to blocking `posix` requests only; Linux skips OFD and flock locks
/// because their owner is not a thread of execution, and a transaction never holds one lock
/// while waiting for another.
public enum LockKind: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case transaction
    case posix
    case ofd
    case flock

    /// The set of kinds that can conflict with one another; two locks in different domains never do.
    enum ConflictDomain: Hashable, Sendable {
        case transaction
        case record
        case flock
    }

    /// The conflict domain this kind belongs to.
    var conflictDomain: ConflictDomain {
        switch self {
        case .transaction: return .transaction
        case .posix, .ofd: return .record
        case .flock: return .flock
        }
    }

    /// Whether a lock of this kind can conflict with a lock of `other` (given different owners,
    /// overlapping ranges and conflicting modes).
    public func sharesConflictDomain(with other: LockKind) -> Bool {
        self.conflictDomain == other.conflictDomain
    }

    /// Whether a blocking request of this kind is checked for deadlock (EDEADLK) before it waits.
    public var detectsDeadlock: Bool { self == .posix }

    /// Whether locks of this kind always cover the whole file.
    public var isWholeFile: Bool { self == .flock }

    /// Position in the sort order of `FileLockList`.
    var sortOrder: Int {
        switch self {
        case .transaction: return 0
        case .posix: return 1
        case .ofd: return 2
        case .flock: return 3
        }
    }

    public var description: String { self.rawValue }
}

/// A read-only copy of the lock table for the lock inspector (`pohmelfs locks`): one entry per held
/// lock and per waiting request, with who holds or wants it, since when, and behind whom a waiter
/// waits.
///
/// A plain value: the server takes it under its lock and formats or encodes it afterwards. File
/// paths, client addresses and mount names are the server's to add; the lock manager knows files
/// and owners only by identity.
public struct LockSnapshot<File: Hashable & Sendable>: Hashable, Sendable {
    /// A lock or request that keeps a waiter waiting.
    public struct Blocker: Hashable, Sendable, CustomStringConvertible {
        public var owner: LockOwnerKey
        public var kind: LockKind
        public var mode: LockMode
        public var range: ByteRange
        /// True when the blocker is itself a waiting request that the FIFO queue keeps ahead.
        public var isWaiting: Bool

        public init(owner: LockOwnerKey, kind: LockKind, mode: LockMode, range: ByteRange, isWaiting: Bool) {
            self.owner = owner
            self.kind = kind
            self.mode = mode
            self.range = range
            self.isWaiting = isWaiting
        }

        public var description: String {
            "\(self.isWaiting ? "waiting " : "")\(self.kind) \(self.mode) \(self.range) by \(self.owner)"
        }
    }

    /// Whether an entry is a held lock or a waiting request.
    public enum State: Hashable, Sendable {
        case held
        /// Waiting under `ticket`, behind `behind` (held conflicting locks first, then earlier
        /// waiters), never empty.
        case waiting(ticket: LockTicket, behind: [Blocker])
    }

    /// One held lock or waiting request.
    public struct Entry: Hashable, Sendable {
        public var file: File
        public var range: ByteRange
        public var mode: LockMode
        public var kind: LockKind
        /// Session, lock owner and, where the client told, pid.
        public var owner: LockOwnerKey
        public var state: State
        /// When the lock was granted, or the request queued; as the caller passed it in.
        public var since: ContinuousClock.Instant

        public init(
            file: File,
            range: ByteRange,
            mode: LockMode,
            kind: LockKind,
            owner: LockOwnerKey,
            state: State,
            since: ContinuousClock.Instant
        ) {
            self.file = file
            self.range = range
            self.mode = mode
            self.kind = kind
            self.owner = owner
            self.state = state
            self.since = since
        }

        /// How long the lock has been held or the request waiting, as of `now`.
        public func age(at now: ContinuousClock.Instant) -> Duration {
            now - self.since
        }

        /// Whether the entry is a held lock.
        public var isHeld: Bool { self.state == .held }
    }

    /// Per file: the held locks (sorted by holder and start), then the waiting requests in arrival
    /// order. Files come in no particular order; sort by path for display.
    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }
}

extension LockManager {
    /// The lock table of every file for which `include` returns true (all files by default).
    public func snapshot(including include: (File) -> Bool = { _ in true }) -> LockSnapshot<File> {
        var entries: [LockSnapshot<File>.Entry] = []
        for (file, state) in self.files where include(file) {
            for lock in state.held.locks {
                entries.append(Self.entry(file: file, lock: lock, state: .held))
            }
            for (waiter, blockers) in state.waiters.allBlockers(held: state.held) {
                let behind = blockers.map { blocker in
                    let lock = blocker.lock
                    var isWaiting = false
                    if case .waiting = blocker { isWaiting = true }
                    return LockSnapshot<File>.Blocker(
                        owner: lock.owner,
                        kind: lock.kind,
                        mode: lock.mode,
                        range: lock.range,
                        isWaiting: isWaiting
                    )
                }
                entries.append(
                    Self.entry(file: file, lock: waiter.lock, state: .waiting(ticket: waiter.ticket, behind: behind))
                )
            }
        }
        return LockSnapshot(entries: entries)
    }

    private static func entry(file: File, lock: FileLock, state: LockSnapshot<File>.State) -> LockSnapshot<File>.Entry {
        LockSnapshot.Entry(
            file: file,
            range: lock.range,
            mode: lock.mode,
            kind: lock.kind,
            owner: lock.owner,
            state: state,
            since: lock.since
        )
    }
}

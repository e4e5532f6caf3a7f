/// One lock on a range of one file, held or requested: who, which kind, which mode, which bytes,
/// and since when.
///
/// The file itself is not stored here: a `FileLock` always lives in the lock list or waiter queue
/// of its file. `since` is when the lock was granted (for a held lock) or requested (for a
/// waiting one); the caller passes the time in, nothing here reads a clock. When locks of one
/// holder merge, the merged lock keeps the earliest `since`.
public struct FileLock: Hashable, Sendable, CustomStringConvertible {
    /// Who holds (or wants) the lock; its pid is the one of the latest request that touched it.
    public var owner: LockOwnerKey
    /// Which API took the lock; part of the owner identity (see `LockHolder`).
    public var kind: LockKind
    /// Shared or exclusive.
    public var mode: LockMode
    /// The bytes covered.
    public var range: ByteRange
    /// When the lock was granted or, for a waiting request, made.
    public var since: ContinuousClock.Instant

    public init(owner: LockOwnerKey, kind: LockKind, mode: LockMode, range: ByteRange, since: ContinuousClock.Instant) {
        self.owner = owner
        self.kind = kind
        self.mode = mode
        self.range = range
        self.since = since
    }

    /// The identity that decides "same owner".
    public var holder: LockHolder { LockHolder(owner: self.owner, kind: self.kind) }

    /// Whether this lock and `other` cannot both be held: different holders, kinds in the same
    /// conflict domain, overlapping ranges and at least one exclusive mode. The relation is symmetric.
    public func conflicts(with other: FileLock) -> Bool {
        self.holder != other.holder
            && self.kind.sharesConflictDomain(with: other.kind)
            && self.range.overlaps(other.range)
            && self.mode.conflicts(with: other.mode)
    }

    /// The same lock with another range; used when a lock is trimmed or split.
    func with(range: ByteRange) -> FileLock {
        var copy = self
        copy.range = range
        return copy
    }

    public var description: String { "\(self.kind) \(self.mode) \(self.range) by \(self.owner)" }
}

/// The locks held on one file: a value type that knows how to check a request for conflicts and
/// how to merge, trim and split ranges, in the manner of the kernel's `posix_lock_inode`.
///
/// Invariants, checked by `LockModelCheckTests` after every step:
///
/// - `locks` is sorted by holder (`LockHolder.precedes`) and then by start, so one holder's locks
///   sit next to each other.
/// - One holder's locks never overlap: a byte is held at most once per holder, in one mode.
/// - One holder's locks of the same mode never touch: overlapping or adjacent ranges are merged,
///   so every set of held bytes has exactly one representation.
/// - No two locks in the list conflict (`FileLock.conflicts(with:)`); the lock manager only
///   applies a request after `firstConflict(with:)` found none.
///
/// The list holds locks of every kind on the file; kinds in different conflict domains (see
/// `LockKind`) simply never conflict.
public struct FileLockList: Hashable, Sendable {
    /// The held locks, in the order described above.
    public private(set) var locks: [FileLock]

    /// An empty list.
    public init() {
        self.locks = []
    }

    /// Whether no lock is held.
    public var isEmpty: Bool { self.locks.isEmpty }

    // MARK: Phase one: conflicts, without changes

    /// The first held lock that conflicts with `request`, or nil if it could be applied now:
    /// what `F_GETLK` reports. Locks of the request's own holder never conflict.
    public func firstConflict(with request: FileLock) -> FileLock? {
        self.locks.first { $0.conflicts(with: request) }
    }

    /// Every held lock that conflicts with `request`, in list order.
    public func conflicts(with request: FileLock) -> [FileLock] {
        self.locks.filter { $0.conflicts(with: request) }
    }

    /// The locks `holder` has on this file, by start.
    public func locks(of holder: LockHolder) -> ArraySlice<FileLock> {
        self.locks[self.indices(of: holder)]
    }

    // MARK: Phase two: merge, trim, split

    /// Applies `request` if nothing conflicts with it, and returns nil; otherwise changes nothing
    /// and returns the first conflict. Both phases in one call.
    @discardableResult
    public mutating func apply(_ request: FileLock) -> FileLock? {
        if let conflict = self.firstConflict(with: request) {
            return conflict
        }
        self.merge(request)
        return nil
    }

    /// Makes the request's holder hold exactly `request.mode` on `request.range`, leaving the
    /// holder's locks outside the range as they were. The caller has checked for conflicts.
    ///
    /// Of the holder's existing locks, those in the same mode that overlap or touch the request
    /// are absorbed into it (the merged range is their union and keeps the earliest `since`);
    /// those in the other mode that overlap it are trimmed to what lies outside it, which splits a
    /// lock in two when the request falls in its middle. That is how a write lock in the middle of
    /// a read lock leaves read, write, read; how an upgrade or downgrade happens in place.
    public mutating func merge(_ request: FileLock) {
        let slot = self.indices(of: request.holder)
        var merged = request
        var kept: [FileLock] = []
        kept.reserveCapacity(slot.count + 1)
        for lock in self.locks[slot] {
            if lock.mode == request.mode {
                if lock.range.touches(request.range) {
                    // Absorbing a neighbour cannot make `merged` reach another lock of the holder:
                    // same-mode locks never touch each other, and other-mode locks never overlap
                    // same-mode ones, so the union reaches nothing the two parts did not.
                    merged.range = merged.range.union(lock.range)
                    merged.since = min(merged.since, lock.since)
                } else {
                    kept.append(lock)
                }
            } else {
                let (before, after) = lock.range.subtracting(request.range)
                if let before { kept.append(lock.with(range: before)) }
                if let after { kept.append(lock.with(range: after)) }
            }
        }
        kept.append(merged)
        kept.sort { $0.range.start < $1.range.start }
        self.locks.replaceSubrange(slot, with: kept)
    }

    /// Releases `holder`'s locks on `range`, trimming or splitting locks that extend beyond it.
    /// Unlocking bytes that are not locked is not an error. Returns whether anything changed.
    @discardableResult
    public mutating func unlock(_ holder: LockHolder, range: ByteRange) -> Bool {
        let slot = self.indices(of: holder)
        var changed = false
        var kept: [FileLock] = []
        kept.reserveCapacity(slot.count + 1)
        for lock in self.locks[slot] {
            guard lock.range.overlaps(range) else {
                kept.append(lock)
                continue
            }
            changed = true
            let (before, after) = lock.range.subtracting(range)
            if let before { kept.append(lock.with(range: before)) }
            if let after { kept.append(lock.with(range: after)) }
        }
        if changed {
            self.locks.replaceSubrange(slot, with: kept)
        }
        return changed
    }

    /// Removes every lock matching `predicate`, for example all of one holder or one session.
    /// Returns whether anything changed.
    @discardableResult
    public mutating func removeAll(where predicate: (FileLock) -> Bool) -> Bool {
        let before = self.locks.count
        self.locks.removeAll(where: predicate)
        return self.locks.count != before
    }

    /// The indices of `holder`'s locks: a contiguous slot, empty (at the insertion point) if the
    /// holder has none. Linear: lists are short, and the scan is the simplest correct thing.
    private func indices(of holder: LockHolder) -> Range<Int> {
        var lower = 0
        while lower < self.locks.count && self.locks[lower].holder.precedes(holder) {
            lower += 1
        }
        var upper = lower
        while upper < self.locks.count && self.locks[upper].holder == holder {
            upper += 1
        }
        return lower..<upper
    }
}

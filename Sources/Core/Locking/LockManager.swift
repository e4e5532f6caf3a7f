/// The range locks of every file the server has locked: POSIX, OFD and flock locks for clients,
/// and the server's own transaction locks around I/O (DESIGN "Range locks").
///
/// A pure value type: no I/O, no clock (callers pass `now`), no waking. Every operation that can
/// let a waiting request through returns the grants (`[LockGrant]`) for the caller to answer
/// once it has left its critical section (STYLE guidelines 11 and 12). `SharedLockManager` is the
/// thin shell that puts one instance behind a mutex for the server.
///
/// Semantics (POSIX `fcntl`, with the kinds interacting as `LockKind` describes):
///
/// - Locks of the same holder (owner and kind) never conflict; a new lock replaces the holder's
///   locks on the range it covers, which upgrades, downgrades, merges and splits in place
///   (`FileLockList.merge(_:)`).
/// - Shared and shared are compatible; exclusive conflicts with any lock of another holder in
///   the same conflict domain.
/// - Waiting requests are FIFO-fair (`LockWaiters`): a waiter holds back later conflicting
///   requests, blocking or not, so readers cannot starve a writer. `test(_:)` reports exactly what
///   a non-blocking `lock(_:wait:at:)` would stumble on.
/// - A blocking POSIX request that would close a cycle of owners waiting for each other is refused
///   with `.deadlock` (EDEADLK) instead of queued (`DeadlockDetector`).
/// - Unlocking bytes that are not locked is fine. Locks are released explicitly: `unlock`,
///   `releaseAll(owner:kind:in:at:)` on close or exit, `releaseSession(_:at:)` when a client's
///   lease runs out. Nothing expires lazily.
///
/// A file's entry disappears as soon as it has neither locks nor waiters.
public struct LockManager<File: Hashable & Sendable>: Sendable {
    /// The held locks and the waiting requests of one file.
    struct FileState: Sendable {
        var held = FileLockList()
        var waiters = LockWaiters()

        var isEmpty: Bool { self.held.isEmpty && self.waiters.isEmpty }

        /// The `since` of some lock or waiter; a stored state always has one.
        var someInstant: ContinuousClock.Instant {
            self.held.locks.first?.since ?? self.waiters.queue[0].lock.since
        }
    }

    /// Where a waiting request waits, by ticket.
    private struct WaitingEntry: Sendable {
        var file: File
        var holder: LockHolder
    }

    /// Per file: held locks and waiters. Never holds an empty state. Internal rather than private
    /// so that `LockManager+Snapshot.swift` can read it.
    var files: [File: FileState] = [:]
    /// Every waiting request's file, by ticket.
    private var waiting: [LockTicket: WaitingEntry] = [:]
    /// Every holder's waiting requests, in ticket order; the edges the deadlock detector follows.
    private var waitingByHolder: [LockHolder: [LockTicket]] = [:]
    /// The last ticket handed out; tickets only go up.
    private var lastTicket: UInt64 = 0

    /// An empty lock table.
    public init() {}

    /// Whether no file has a lock or a waiter.
    public var isEmpty: Bool { self.files.isEmpty }

    /// The files that have locks or waiters, in no particular order.
    public var lockedFiles: [File] { Array(self.files.keys) }

    /// The locks held on `file`, sorted by holder and start.
    public func locks(on file: File) -> [FileLock] {
        self.files[file]?.held.locks ?? []
    }

    /// The requests waiting on `file`, in arrival order.
    public func waiters(on file: File) -> [(ticket: LockTicket, lock: FileLock)] {
        self.files[file]?.waiters.queue.map { ($0.ticket, $0.lock) } ?? []
    }

    // MARK: Requests

    /// `F_GETLK`: the lock that would keep `request` from being granted now, or nil if
    /// `lock(request, wait: false, at:)` would grant it. That is the first conflicting lock held
    /// by another holder or, failing that, the first earlier waiter the queue keeps ahead of the
    /// request (reported with its `since` as the time it was queued).
    public func test(_ request: LockRequest<File>) throws(LockError) -> FileLock? {
        try Self.validate(request.kind, request.range)
        guard let state = self.files[request.file] else { return nil }
        // `since` plays no part in conflict checks; borrow an instant from the file's state (which
        // is never empty) so that nothing here reads a clock.
        let probe = request.lock(since: state.someInstant)
        return state.waiters.blockers(ofNew: probe, held: state.held).first?.lock
    }

    /// `F_SETLK` (`wait: false`), `F_SETLKW` and transactions (`wait: true`), and their OFD and flock
    /// equivalents.
    ///
    /// - Returns: `.granted` if the lock is now held; `.wouldBlock(conflict:)` if a non-blocking
    ///   request met a conflict; `.queued(ticket)` if a blocking request waits, to be granted in
    ///   the result of a later operation or cancelled with `cancel(_:at:)`; `.deadlock` if a
    ///   blocking POSIX request would wait for itself. Alongside, the waiters this request let
    ///   through (when it downgrades or narrows its holder's locks).
    /// - Throws: `LockError.Code.invalidRange` for a flock request that does not cover the whole file.
    public mutating func lock(
        _ request: LockRequest<File>,
        wait: Bool,
        at now: ContinuousClock.Instant
    ) throws(LockError) -> LockDecision<File> {
        try Self.validate(request.kind, request.range)
        // Taken out of the table while it changes, so its lists are changed in place rather than
        // copied (the table's reference would force a copy): put back on every path.
        var state = self.files.removeValue(forKey: request.file) ?? FileState()
        let lock = request.lock(since: now)
        let blockers = state.waiters.blockers(ofNew: lock, held: state.held)

        guard let first = blockers.first else {
            state.held.merge(lock)
            let grants = self.grantReady(&state, file: request.file, at: now)
            self.store(state, for: request.file)
            return LockDecision(outcome: .granted, grants: grants)
        }
        guard wait else {
            self.store(state, for: request.file)
            return LockDecision(outcome: .wouldBlock(conflict: first.lock))
        }
        if request.kind.detectsDeadlock {
            // The detector follows waits through every file's state, this one's included.
            self.store(state, for: request.file)
            let deadlock = DeadlockDetector.wouldDeadlock(
                requester: request.holder,
                blockers: blockers.map { $0.lock.holder },
                waitsFor: { self.holdersWaitedFor(by: $0) }
            )
            if deadlock {
                return LockDecision(outcome: .deadlock)
            }
        }

        self.lastTicket += 1
        let ticket = LockTicket(self.lastTicket)
        state.waiters.enqueue(LockWaiters.Waiter(ticket: ticket, lock: lock))
        self.waiting[ticket] = WaitingEntry(file: request.file, holder: request.holder)
        self.waitingByHolder[request.holder, default: []].append(ticket)
        self.store(state, for: request.file)
        return LockDecision(outcome: .queued(ticket))
    }

    /// `F_SETLK` with `F_UNLCK`, `LOCK_UN`, and the end of a transaction: releases `owner`'s locks of
    /// `kind` on `range` of `file`, splitting locks that extend beyond it. Unlocking bytes that are
    /// not locked is fine. Waiting requests of the owner stay queued.
    ///
    /// - Returns: the waiters now granted.
    /// - Throws: `LockError.Code.invalidRange` for a flock unlock that does not cover the whole file.
    public mutating func unlock(
        _ owner: LockOwnerKey,
        kind: LockKind,
        file: File,
        range: ByteRange,
        at now: ContinuousClock.Instant
    ) throws(LockError) -> [LockGrant<File>] {
        try Self.validate(kind, range)
        // Taken out while it changes (see `lock`), put back on every path.
        guard var state = self.files.removeValue(forKey: file) else { return [] }
        guard state.held.unlock(LockHolder(owner: owner, kind: kind), range: range) else {
            self.store(state, for: file)
            return []
        }
        let grants = self.grantReady(&state, file: file, at: now)
        self.store(state, for: file)
        return grants
    }

    /// A signal interrupted a blocked `F_SETLKW` (FUSE INTERRUPT), or the caller gave up waiting:
    /// withdraws the request. Requests queued behind it may go now.
    ///
    /// - Returns: the waiters now granted.
    /// - Throws: `LockError.Code.unknownTicket` if the ticket is not waiting, typically because an
    ///   earlier operation already granted it; the caller then answers the request as granted
    ///   (or unlocks it) rather than with EINTR.
    public mutating func cancel(_ ticket: LockTicket, at now: ContinuousClock.Instant) throws(LockError)
        -> [LockGrant<File>]
    {
        guard let entry = self.waiting[ticket], var state = self.files[entry.file],
            state.waiters.remove(ticket) != nil
        else {
            throw LockError(.unknownTicket, "\(ticket) is not waiting")
        }
        self.forgetWaiting(ticket, holder: entry.holder)
        let grants = self.grantReady(&state, file: entry.file, at: now)
        self.store(state, for: entry.file)
        return grants
    }

    /// Releases every lock `owner` holds with `kind`, on `file` or, if `file` is nil, on every file.
    ///
    /// For POSIX locks call it with the file on every close (FUSE FLUSH carries the lock owner):
    /// POSIX drops a process's locks on a file when it closes any descriptor of it. Call it with
    /// kind `.ofd` and `.flock` when the open file description goes away (final RELEASE).
    /// Waiting requests of the owner stay queued, as Linux leaves another thread's `F_SETLKW`
    /// waiting across a close; cancel those with `cancel(_:at:)`.
    ///
    /// - Returns: the waiters now granted.
    public mutating func releaseAll(
        owner: LockOwnerKey,
        kind: LockKind,
        in file: File? = nil,
        at now: ContinuousClock.Instant
    ) -> [LockGrant<File>] {
        let holder = LockHolder(owner: owner, kind: kind)
        let candidates = file.map { [$0] } ?? Array(self.files.keys)
        var grants: [LockGrant<File>] = []
        for file in candidates {
            guard var state = self.files[file] else { continue }
            guard state.held.removeAll(where: { $0.holder == holder }) else { continue }
            grants += self.grantReady(&state, file: file, at: now)
            self.store(state, for: file)
        }
        return grants
    }

    /// A client session is gone for good (it disconnected and its lease ran out, or it said
    /// goodbye): drops every lock it holds and every request it has waiting, of every kind, on
    /// every file. Its own dropped requests need no answer, since there is no one to send it to.
    /// Costs one pass over the locked files.
    ///
    /// - Returns: the other sessions' waiters now granted.
    public mutating func releaseSession(_ session: SessionID, at now: ContinuousClock.Instant) -> [LockGrant<File>] {
        var grants: [LockGrant<File>] = []
        for file in Array(self.files.keys) {
            guard var state = self.files[file] else { continue }
            let releasedLocks = state.held.removeAll(where: { $0.owner.session == session })
            let droppedWaiters = state.waiters.removeAll(where: { $0.lock.owner.session == session })
            for waiter in droppedWaiters {
                self.forgetWaiting(waiter.ticket, holder: waiter.lock.holder)
            }
            guard releasedLocks || !droppedWaiters.isEmpty else { continue }
            grants += self.grantReady(&state, file: file, at: now)
            self.store(state, for: file)
        }
        return grants
    }

    // MARK: Helpers

    /// Rejects ranges that do not suit the kind: flock locks always cover the whole file.
    private static func validate(_ kind: LockKind, _ range: ByteRange) throws(LockError) {
        if kind.isWholeFile && !range.isWholeFile {
            throw LockError(.invalidRange, "\(kind) locks cover the whole file, not \(range)")
        }
    }

    /// Grants what can go on one file and removes the granted tickets from the indexes.
    private mutating func grantReady(_ state: inout FileState, file: File, at now: ContinuousClock.Instant)
        -> [LockGrant<File>]
    {
        guard !state.waiters.isEmpty else { return [] }
        let granted = state.waiters.grantReady(held: &state.held, at: now)
        return granted.map { waiter in
            self.forgetWaiting(waiter.ticket, holder: waiter.lock.holder)
            let lock = waiter.lock
            let request = LockRequest(
                file: file,
                owner: lock.owner,
                kind: lock.kind,
                mode: lock.mode,
                range: lock.range
            )
            return LockGrant(ticket: waiter.ticket, request: request)
        }
    }

    /// Removes a ticket that is no longer waiting from both indexes.
    private mutating func forgetWaiting(_ ticket: LockTicket, holder: LockHolder) {
        self.waiting[ticket] = nil
        guard var tickets = self.waitingByHolder[holder] else { return }
        tickets.removeAll { $0 == ticket }
        self.waitingByHolder[holder] = tickets.isEmpty ? nil : tickets
    }

    /// Writes a file's state back, dropping it when nothing is left.
    private mutating func store(_ state: FileState, for file: File) {
        self.files[file] = state.isEmpty ? nil : state
    }

    /// The holders that `holder`'s waiting requests wait for, on any file: the edges of the
    /// waits-for graph. Only POSIX holders are followed, as in Linux.
    private func holdersWaitedFor(by holder: LockHolder) -> [LockHolder] {
        guard holder.kind.detectsDeadlock, let tickets = self.waitingByHolder[holder] else { return [] }
        var result: [LockHolder] = []
        for ticket in tickets {
            guard let entry = self.waiting[ticket], let state = self.files[entry.file],
                let blockers = state.waiters.blockers(of: ticket, held: state.held)
            else { continue }
            result += blockers.map { $0.lock.holder }
        }
        return result
    }
}

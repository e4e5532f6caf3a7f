import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which session holds the delegation of which directory, the recalls under way, and each
/// session's log of delegated operations (ConsistencyContract "Delegated directories").
///
/// - A directory a delegating session makes is born delegated to it (`born`); objects created
///   in it through the log belong to it (a request on them recalls the directory too).
/// - `recall` parks another session's request (a closure, never a thread) until the holder's
///   DELEG_RETURN and its log through the returned entry are applied, or until the timeout,
///   which revokes: the holder's later log entries on the directory fail with EIO.
/// - `sequence` orders a session's log: entry `seq` runs only after `seq - 1`; one that arrives
///   early is parked and run by the thread that closes the gap.
///
/// Locking: `state` is behind its mutex, never held while sending or running a closure.
public final class DelegationTable: Sendable {
    struct Recall {
        var holder: SessionID
        var waiters: [@Sendable () -> Void] = []
        var timer: Scheduled<Void>? = nil
    }

    struct Log {
        /// The next entry to apply.
        var next: UInt64 = 1
        var parked: [UInt64: @Sendable () -> Void] = [:]
        /// Directories returned after an entry not applied yet: finished once it is.
        var returns: [(directory: ObjectHandle, lastSeq: UInt64, done: @Sendable () -> Void)] = []
    }

    struct State {
        var delegating: Set<SessionID> = []
        var holders: [ObjectHandle: SessionID] = [:]
        /// Objects created through the log, by the directory they were created in, and back.
        var createdIn: [ObjectHandle: ObjectHandle] = [:]
        var created: [ObjectHandle: Set<ObjectHandle>] = [:]
        var recalls: [ObjectHandle: Recall] = [:]
        var logs: [SessionID: Log] = [:]
        /// Staged objects handed to each session and not yet given a name.
        var staged: [SessionID: Set<ObjectHandle>] = [:]
        /// Directories taken from a holder that did not answer a recall in time.
        var revoked: [SessionID: Set<ObjectHandle>] = [:]
    }

    let state = Mutex(State())
    /// DELEG_RECALL notices sent, for tests and STATUS= lines.
    public let recallsSent = Atomic<UInt64>(0)
    /// Delegated operations applied.
    public let applied = Atomic<UInt64>(0)

    public init() {}

    /// Whether no directory is delegated now (the recall check's fast path).
    var isIdle: Bool { self.state.withLock { $0.holders.isEmpty } }

    func enable(_ session: SessionID) { _ = self.state.withLock { $0.delegating.insert(session) } }

    func isDelegating(_ session: SessionID) -> Bool { self.state.withLock { $0.delegating.contains(session) } }

    /// `directory` was just made by `session`: delegated to it when it delegates.
    func born(_ directory: ObjectHandle, to session: SessionID) {
        self.state.withLock { state in
            guard state.delegating.contains(session), state.holders[directory] == nil else { return }
            state.holders[directory] = session
        }
    }

    func handedOut(_ objects: [ObjectHandle], to session: SessionID) {
        self.state.withLock { $0.staged[session, default: []].formUnion(objects) }
    }

    /// Checks a log entry of `session` naming `directory` (and, for a create, the staged object
    /// it uses, which leaves the session's pool): EIO when the delegation was revoked, EBUSY when
    /// the session does not hold it, ESTALE when `staged` is not the session's.
    func checkEntry(_ directory: ObjectHandle, staged: ObjectHandle?, by session: SessionID) throws {
        try self.state.withLock { state in
            if state.revoked[session]?.contains(directory) == true { throw Errno.io }
            guard state.holders[directory] == session else { throw Errno(EBUSY) }
            if let staged {
                guard state.staged[session]?.remove(staged) != nil else { throw Errno.stale }
            }
        }
    }

    /// `object` now has a name in the delegated `directory`.
    func created(_ object: ObjectHandle, in directory: ObjectHandle) {
        self.state.withLock { state in
            guard state.holders[directory] != nil else { return }
            state.createdIn[object] = directory
            state.created[directory, default: []].insert(object)
        }
    }

    /// A staged object a failed create did not use goes back to the session's pool (it is
    /// removed with the session's other unused ones).
    func putBack(_ staged: ObjectHandle, for session: SessionID) {
        _ = self.state.withLock { $0.staged[session, default: []].insert(staged) }
    }

    // MARK: - The log

    enum Turn { case now, parked, duplicate }

    /// Whether log entry `seq` of `session` runs now (the caller runs it, then calls `advance`),
    /// was parked (`apply` runs when its turn comes, from `advance`), or was applied already.
    func sequence(_ seq: UInt64, of session: SessionID, apply: @escaping @Sendable () -> Void) -> Turn {
        self.state.withLock { state in
            if state.logs[session] == nil { state.logs[session] = Log() }
            let next = state.logs[session]!.next
            if seq < next { return .duplicate }
            if seq > next {
                state.logs[session]!.parked[seq] = apply
                return .parked
            }
            return .now
        }
    }

    /// The entry whose turn it was is applied: runs the parked ones that follow, in order, and
    /// finishes the returns that waited for them.
    func advance(_ session: SessionID) {
        while true {
            let (parked, returned): ((@Sendable () -> Void)?, [@Sendable () -> Void]) = self.state.withLock { state in
                guard var log = state.logs[session] else { return (nil, []) }
                log.next += 1
                let parked = log.parked.removeValue(forKey: log.next)
                let ready = log.returns.filter { $0.lastSeq < log.next }
                log.returns.removeAll { $0.lastSeq < log.next }
                state.logs[session] = log
                var finished: [@Sendable () -> Void] = []
                for entry in ready {
                    finished.append(entry.done)
                    finished.append(contentsOf: Self.end(entry.directory, in: &state))
                }
                return (parked, finished)
            }
            self.applied.add(1, ordering: .relaxed)
            returned.forEach { $0() }
            guard let parked else { return }
            parked()  // applies and answers; the loop then takes the next turn
        }
    }

    // MARK: - Recall

    /// The delegated directory `handle` is, or was created in, when another session than
    /// `session` holds it.
    private static func heldElsewhere(_ handle: ObjectHandle, by session: SessionID, in state: State) -> ObjectHandle? {
        let directory = state.holders[handle] != nil ? handle : state.createdIn[handle]
        guard let directory, let holder = state.holders[directory], holder != session else { return nil }
        return directory
    }

    /// When another session holds the delegation of one of `handles` (or of the directory one
    /// was created in), recalls it and returns true: `resume` runs once it is returned or
    /// revoked (then check again: another may need a recall). False: nothing to wait for.
    func recall(
        _ handles: [ObjectHandle], before session: SessionID, coherence: CacheCoherence, timerLoop: any EventLoop,
        resume: @escaping @Sendable () -> Void
    ) -> Bool {
        enum Action { case none, wait, send(ObjectHandle, SessionID) }
        let action: Action = self.state.withLock { state in
            var found: ObjectHandle? = nil
            for handle in handles where found == nil { found = Self.heldElsewhere(handle, by: session, in: state) }
            guard let directory = found else { return .none }
            if state.recalls[directory] != nil {
                state.recalls[directory]!.waiters.append(resume)
                return .wait
            }
            let holder = state.holders[directory]!
            state.recalls[directory] = Recall(holder: holder, waiters: [resume])
            return .send(directory, holder)
        }
        guard case .send(let directory, let holder) = action else {
            if case .wait = action { return true }
            return false
        }
        self.recallsSent.add(1, ordering: .relaxed)
        let sent = coherence.sendNotice(DelegationRecallNotice(directory: directory), to: holder)
        guard sent else {
            // The holder is gone: what it applied stays, the rest will fail.
            self.revoke(directory)
            return true
        }
        let timer = timerLoop.scheduleTask(in: TimeAmount(coherence.timeout)) { self.revoke(directory) }
        let cancel: Bool = self.state.withLock { state in
            guard state.recalls[directory] != nil else { return true }
            state.recalls[directory]!.timer = timer
            return false
        }
        if cancel { timer.cancel() }
        return true
    }

    /// DELEG_RETURN from `session` for `directory` after its entry `lastSeq`: `done` runs (and
    /// the waiting requests with it) once the log is applied through `lastSeq`.
    func returned(
        _ directory: ObjectHandle, lastSeq: UInt64, by session: SessionID, done: @escaping @Sendable () -> Void
    ) {
        let finished: [@Sendable () -> Void] = self.state.withLock { state in
            guard state.holders[directory] == session else { return [done] }
            if state.logs[session] == nil { state.logs[session] = Log() }
            let next = state.logs[session]!.next
            if lastSeq < next { return [done] + Self.end(directory, in: &state) }
            state.logs[session]!.returns.append((directory, lastSeq, done))
            return []
        }
        finished.forEach { $0() }
    }

    /// The holder did not give `directory` back in time (or is gone): it loses it.
    func revoke(_ directory: ObjectHandle) {
        let waiters: [@Sendable () -> Void] = self.state.withLock { state in
            guard let holder = state.holders[directory] else { return [] }
            state.revoked[holder, default: []].insert(directory)
            return Self.end(directory, in: &state)
        }
        waiters.forEach { $0() }
    }

    /// Ends the delegation of `directory`; returns the waiters to run.
    private static func end(_ directory: ObjectHandle, in state: inout State) -> [@Sendable () -> Void] {
        state.holders[directory] = nil
        for object in state.created.removeValue(forKey: directory) ?? [] { state.createdIn[object] = nil }
        guard let recall = state.recalls.removeValue(forKey: directory) else { return [] }
        recall.timer?.cancel()
        return recall.waiters
    }

    // MARK: - Sessions

    /// `session`'s connection is gone: it loses every delegation (the requests waiting on them
    /// run on what was applied).
    func holderGone(_ session: SessionID) {
        let waiters: [@Sendable () -> Void] = self.state.withLock { state in
            var waiters: [@Sendable () -> Void] = []
            for (directory, holder) in state.holders where holder == session {
                state.revoked[session, default: []].insert(directory)
                waiters += Self.end(directory, in: &state)
            }
            return waiters
        }
        waiters.forEach { $0() }
    }

    /// `session` is over for good: returns its unused staged objects, to remove.
    func sessionExpired(_ session: SessionID) -> [ObjectHandle] {
        self.state.withLock { state in
            state.delegating.remove(session)
            state.logs[session] = nil
            state.revoked[session] = nil
            return Array(state.staged.removeValue(forKey: session) ?? [])
        }
    }
}

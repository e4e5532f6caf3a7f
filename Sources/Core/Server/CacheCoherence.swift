import Logging
import NIOCore
import Synchronization

/// Keeps every client's page cache coherent (DESIGN "Consistency contract" 2): the server knows
/// which sessions cache which files, and before it acknowledges a change to a file it tells every
/// other caching session to drop the affected pages, and waits for them.
///
/// - A session becomes a cacher of a file when it opens the file with `caching` set, and stays
///   one across opens (so its kernel may keep the pages: OPEN answers `cacheValid`) until it
///   disconnects or fails to answer an invalidation in time.
/// - A session that does not answer within `timeout` loses its grant for that file: its next
///   open gets `cacheValid` false and starts from an empty cache.
/// - The writer itself is never asked: its kernel already holds what it wrote.
/// - Exclusive write-back grants and their recall: `CacheCoherence+Grants`.
///
/// Locking: `state` is protected by its mutex, never held while sending or completing.
public final class CacheCoherence: Sendable {
    /// Off only for the test that proves the read-after-write checker can fail
    /// (`pohmelfs serve --unsafe-no-invalidation`).
    public let enabled: Bool
    public let timeout: Duration
    /// Test-only: how long each awaited LEASE_BREAK or INVALIDATE is held back (`FaultInjection`).
    let breakDelay: Duration
    let logger: Logger

    struct Peer {
        var send: @Sendable (ByteBuffer) -> Void
        var allocator: ByteBufferAllocator
    }

    struct Round {
        var file: ObjectHandle
        var waitingFor: Set<SessionID>
        var completion: @Sendable () -> Void
        /// The session whose change waits for the round (`CacheCoherence+Leases`).
        var initiator: SessionID? = nil
        /// The objects whose attribute leases the round breaks, and the sessions whose leases
        /// those were (`CacheCoherence+BreaksUnderWay`).
        var objects: [ObjectHandle] = []
        var attributeHolders: Set<SessionID> = []
    }

    struct State {
        var cachers: [ObjectHandle: Set<SessionID>] = [:]
        var peers: [SessionID: Peer] = [:]
        var rounds: [UInt64: Round] = [:]
        var nextNotice: UInt64 = 1
        /// Write-back grants (`CacheCoherence+Grants`): the holder of each file's grant.
        var holders: [ObjectHandle: SessionID] = [:]
        /// Recalls in progress, by file.
        var recalls: [ObjectHandle: Recall] = [:]
        /// How many handles each session has open on each file: a grant goes only to a session
        /// that is alone with the file.
        var openers: [ObjectHandle: [SessionID: Int]] = [:]
        /// Files removed for good while a session still had them open: forgotten at their last
        /// release.
        var removed: Set<ObjectHandle> = []
        /// Leases on names and attributes (`CacheCoherence+Leases`).
        var leases = LeaseTable()
        /// The rounds under way that break attribute leases, by object
        /// (`CacheCoherence+BreaksUnderWay`).
        var breakRounds: [ObjectHandle: Set<UInt64>] = [:]
    }

    let state = Mutex(State())
    /// Invalidations sent, for STATUS= lines and tests.
    public let invalidationsSent = Atomic<UInt64>(0)
    /// Write-back grants recalled, for tests.
    public let recallsSent = Atomic<UInt64>(0)
    /// LEASE_BREAK notices sent (`CacheCoherence+Leases`).
    public let leaseBreaksSent = Atomic<UInt64>(0)
    /// Delegated directories (`DelegationTable`).
    public let delegations = DelegationTable()

    public init(enabled: Bool = true, timeout: Duration = .seconds(5), breakDelay: Duration = .zero, logger: Logger) {
        self.enabled = enabled
        self.timeout = timeout
        self.breakDelay = breakDelay
        self.logger = logger
    }

    func sessionStarted(_ session: SessionID, allocator: ByteBufferAllocator, send: @escaping @Sendable (ByteBuffer) -> Void) {
        self.state.withLock { $0.peers[session] = Peer(send: send, allocator: allocator) }
    }

    /// The session is gone: it caches nothing, and no round waits for it any more.
    func sessionEnded(_ session: SessionID) {
        self.delegations.holderGone(session)
        let finished: [@Sendable () -> Void] = self.state.withLock { state in
            state.peers[session] = nil
            state.leases.drop(session)
            for file in Array(state.cachers.keys) {
                state.cachers[file]?.remove(session)
                if state.cachers[file]?.isEmpty == true { state.cachers[file] = nil }
            }
            return self.answer(session, rounds: Array(state.rounds.keys), in: &state)
                + self.dropGrants(of: session, in: &state)
        }
        finished.forEach { $0() }
    }

    /// `file` is gone for good (no link left): no one can open it again, so who cached it, who
    /// held its grant and who held a lease on it is forgotten, now or at its last release if a
    /// session still has it open. Without this the tables would grow by every file a long-lived
    /// session ever cached.
    func forget(_ files: [ObjectHandle]) {
        guard !files.isEmpty else { return }
        self.state.withLock { state in
            for file in files {
                if state.openers[file] != nil {
                    state.removed.insert(file)
                } else {
                    Self.drop(file, in: &state)
                }
            }
        }
    }

    static func drop(_ file: ObjectHandle, in state: inout State) {
        state.cachers[file] = nil
        if state.recalls[file] == nil { state.holders[file] = nil }
        state.removed.remove(file)
        state.leases.forget(file)
    }

    /// The files `session` caches now: kept across a detach, to regrant on resume.
    func cachedFiles(of session: SessionID) -> [ObjectHandle] {
        self.state.withLock { state in state.cachers.filter { $0.value.contains(session) }.map(\.key) }
    }

    /// `session` is back after missing invalidations (a resumed session, or a file reopened on
    /// a restarted server): it caches `files` again, and each is invalidated whole on its side
    /// now, since others may have changed them meanwhile. Notice id 0: nothing waits for the
    /// acknowledgement.
    func refresh(_ files: [ObjectHandle], for session: SessionID) {
        guard self.enabled, !files.isEmpty else { return }
        let peer: Peer? = self.state.withLock { state in
            for file in files { state.cachers[file, default: []].insert(session) }
            return state.peers[session]
        }
        guard let peer else { return }
        for file in files {
            let notice = InvalidateNotice(handle: file, offset: 0, length: 0)
            peer.send(FrameEncoding.notice(notice, id: .none, allocator: peer.allocator))
        }
    }

    /// OPEN or CREATE by `session`. Returns whether the session's cached pages from before are
    /// still valid (it has been a cacher of the file all along).
    func opened(_ file: ObjectHandle, by session: SessionID, caching: Bool) -> Bool {
        guard caching, self.enabled else { return false }
        return self.state.withLock { state in
            !state.cachers[file, default: []].insert(session).inserted
        }
    }

    /// `writer` changed `length` bytes of `file` at `offset` (0 = to the end): runs `completion`
    /// once every other cacher has dropped its pages, or has timed out and lost its grant.
    /// Returns false (and does not run `completion`) when there is no one to ask.
    func invalidate(
        _ file: ObjectHandle, offset: UInt64, length: UInt64, by writer: SessionID, timerLoop: any EventLoop,
        then completion: @escaping @Sendable () -> Void
    ) -> Bool {
        guard self.enabled else { return false }
        let plan: (UInt64, [Peer])? = self.state.withLock { state in
            // Attribute leases break with the pages: the size and times changed too.
            state.leases.changed([file], by: writer)
            // Holders still being broken by an earlier round count as holders.
            let attributes = Self.attributeHolders(of: [file], except: writer, in: state)
            let others = (state.cachers[file] ?? [])
                .union(state.leases.breaking(names: [], objects: [file], except: writer))
                .union(attributes)
                .subtracting([writer]).filter { state.peers[$0] != nil }
            guard !others.isEmpty else { return nil }
            let id = state.nextNotice
            state.nextNotice += 1
            Self.start(
                Round(
                    file: file, waitingFor: others, completion: completion, initiator: writer, objects: [file],
                    attributeHolders: attributes.intersection(others)),
                id: id, in: &state)
            return (id, others.compactMap { state.peers[$0] })
        }
        guard let (id, peers) = plan else { return false }
        let notice = InvalidateNotice(handle: file, offset: offset, length: length)
        for peer in peers {
            self.send(
                FrameEncoding.notice(notice, id: TransactionID(id), allocator: peer.allocator), to: peer, round: id,
                timerLoop: timerLoop)
        }
        self.invalidationsSent.add(UInt64(peers.count), ordering: .relaxed)
        timerLoop.scheduleTask(in: TimeAmount(self.timeout)) {
            self.expire(id)
        }
        return true
    }

    /// INVALIDATE_DONE from `session` for notice `id`.
    func acknowledged(_ id: TransactionID, by session: SessionID) {
        let finished = self.state.withLock { self.answer(session, rounds: [id.rawValue], in: &$0) }
        finished.forEach { $0() }
    }

    /// Removes `session` from `rounds`; returns the completions of rounds now complete.
    func answer(_ session: SessionID, rounds ids: [UInt64], in state: inout State) -> [@Sendable () -> Void] {
        var finished: [@Sendable () -> Void] = []
        for id in ids {
            guard var round = state.rounds[id], round.waitingFor.remove(session) != nil else { continue }
            if round.waitingFor.isEmpty {
                Self.end(id, in: &state)
                finished.append(round.completion)
            } else {
                state.rounds[id] = round
            }
        }
        return finished
    }

    /// The round's time is up: whoever has not answered loses its cache grant for the file.
    func expire(_ id: UInt64) {
        let expired: Round? = self.state.withLock { state in
            guard let round = Self.end(id, in: &state) else { return nil }
            for session in round.waitingFor { state.cachers[round.file]?.remove(session) }
            return round
        }
        guard let expired else { return }
        self.logger.warning(
            "clients did not answer an invalidation in time; they lose their cache grant for the file",
            metadata: ["sessions": "\(expired.waitingFor.map(\.rawValue).sorted())"])
        expired.completion()
    }
}

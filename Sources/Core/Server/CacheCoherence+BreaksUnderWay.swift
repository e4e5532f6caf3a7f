import NIOCore

/// Holders being broken are holders until they answer (ConsistencyContract "Leases on names and
/// attributes").
///
/// `LeaseTable.breaking` ends a session's attribute lease on an object as soon as a round that
/// breaks it starts, so that a stream of changes waits for each holder once. Until that session
/// answers the round (INVALIDATE_DONE) or the round gives up on it, its kernel may still show the
/// attributes from before. A second change of the object acknowledged meanwhile (another thread
/// of the same writer, a second writer, a SETATTR beside a WRITEBACK_GRANT's round) would let a
/// `stat` on that session show the state before both. So every change of an object's attributes
/// also breaks, and waits for, the sessions that a round still under way on the object waits for
/// (busy sessions are told instead, as for any holder: `CacheCoherence+Leases`).
///
/// Kept by object: the ids of the rounds under way that break its attribute leases
/// (`State.breakRounds`); each round keeps the objects and the sessions whose leases it broke.
extension CacheCoherence {
    /// The sessions other than `session` whose kernels may still show the attributes of
    /// `objects`: those holding a lease on them now, and those a round under way is breaking
    /// that lease for and that have not answered yet. Read before `LeaseTable.breaking`.
    static func attributeHolders(
        of objects: [ObjectHandle], except session: SessionID, in state: State
    ) -> Set<SessionID> {
        var holders: Set<SessionID> = []
        for object in objects {
            holders.formUnion(state.leases.attributeHolders[object] ?? [])
            for id in state.breakRounds[object] ?? [] {
                guard let round = state.rounds[id] else { continue }
                holders.formUnion(round.waitingFor.intersection(round.attributeHolders))
            }
        }
        holders.remove(session)
        return holders
    }

    /// Registers round `id`, and it as breaking the attribute leases on its objects.
    static func start(_ round: Round, id: UInt64, in state: inout State) {
        state.rounds[id] = round
        guard !round.attributeHolders.isEmpty else { return }
        for object in round.objects { state.breakRounds[object, default: []].insert(id) }
    }

    /// Round `id` is over (answered by all, or given up): removes and returns it.
    @discardableResult
    static func end(_ id: UInt64, in state: inout State) -> Round? {
        guard let round = state.rounds.removeValue(forKey: id) else { return nil }
        for object in round.objects {
            state.breakRounds[object]?.remove(id)
            if state.breakRounds[object]?.isEmpty == true { state.breakRounds[object] = nil }
        }
        return round
    }

    /// Sends a notice a round waits for: at once, or `breakDelay` later (test-only, logged: the
    /// tests wait for the line to know the round is under way).
    func send(_ frame: ByteBuffer, to peer: Peer, round id: UInt64, timerLoop: any EventLoop) {
        guard self.breakDelay > .zero else { return peer.send(frame) }
        self.logger.info("test: lease break held back", metadata: ["notice": "\(id)"])
        timerLoop.scheduleTask(in: TimeAmount(self.breakDelay)) { peer.send(frame) }
    }
}

import NIOCore

/// Leases on names and attributes (ConsistencyContract "Leases on names and attributes").
///
/// A session that speaks leases holds one on everything the server describes to it: the names
/// it looked up in a directory (found or missing), and the attributes of the objects it was
/// told about. Its kernel caches them for as long as the lease lasts. Before the server
/// acknowledges a change of a name or of an object's attributes, it sends LEASE_BREAK (or, for
/// a change of file data, INVALIDATE) to every other holder and waits for INVALIDATE_DONE, as
/// for pages (`CacheCoherence`), up to `timeout`.
///
/// Grants never wait: a grant is registered after the store answered, and refused when a change
/// by another session crossed it (`LeaseTable.crossed`); a refused grant sends the session an
/// empty LEASE_BREAK ahead of the reply, which tells the client that reply carries no lease.
///
/// Deadlock freedom: the client's kernel invalidation of a name takes the directory's lock,
/// which the client's own create, unlink or rename in that directory holds while it waits for
/// the server. So a break round never waits for a session that is itself waiting for a round:
/// that session still gets the notice (id 0) and applies it once its own change returns.
extension CacheCoherence {
    /// The `offset` an `onChange` route returns when it changed nothing after all (an OPEN
    /// without O_TRUNC).
    static let nothingChanged = UInt64.max - 1
    /// `session` speaks leases (HELLO capability), or no longer does.
    func setLeases(_ enabled: Bool, for session: SessionID) {
        guard self.enabled else { return }
        self.state.withLock { state in
            if enabled { state.leases.sessions.insert(session) } else { state.leases.drop(session) }
        }
    }

    /// The number of the last change, taken before a request that grants leases reads the store.
    func leaseSequence() -> UInt64 {
        self.state.withLock { $0.leases.sequence }
    }

    /// Grants `session` leases on the names of `directories` and the attributes of `objects`,
    /// as read after change `since`. When the grant is refused (a change crossed it, or the table
    /// is full), sends the session an empty LEASE_BREAK before the reply goes out.
    func grantLeases(directories: [ObjectHandle], objects: [ObjectHandle], to session: SessionID, since: UInt64) {
        guard self.enabled else { return }
        let refusedTo: Peer? = self.state.withLock { state in
            guard state.leases.sessions.contains(session) else { return nil }
            if state.leases.grant(directories: directories, objects: objects, to: session, since: since) { return nil }
            return state.peers[session]
        }
        guard let refusedTo else { return }
        refusedTo.send(FrameEncoding.notice(LeaseBreakNotice(), id: .none, allocator: refusedTo.allocator))
    }

    /// `session` changed `names` (and so their directories) and the attributes of `objects`:
    /// runs `completion` once every other holder has forgotten them, or timed out. Returns false
    /// (and does not run `completion`) when nobody has to be asked. `waiting` false: the holders
    /// are told (notice id 0) and nobody is waited for.
    func breakLeases(
        names: [LeasedName], objects: [ObjectHandle], by session: SessionID, timerLoop: any EventLoop,
        waiting: Bool = true, then completion: @escaping @Sendable () -> Void
    ) -> Bool {
        guard self.enabled else { return false }
        let directories = names.map(\.directory)
        let plan: (UInt64, [Peer], [Peer])? = self.state.withLock { state in
            state.leases.changed(directories + objects, by: session)
            // Holders still being broken by an earlier round count as holders
            // (`CacheCoherence+BreaksUnderWay`).
            let attributes = Self.attributeHolders(of: objects, except: session, in: state)
            let holders = state.leases.breaking(names: directories, objects: objects, except: session)
                .union(attributes)
                .filter { state.peers[$0] != nil }
            guard !holders.isEmpty else { return nil }
            // Sessions waiting for a round of their own are told, not waited for (see above).
            let busy = waiting ? Set(state.rounds.values.compactMap(\.initiator)) : holders
            let waited = holders.subtracting(busy)
            let told = holders.intersection(busy)
            var id: UInt64 = 0
            if !waited.isEmpty {
                id = state.nextNotice
                state.nextNotice += 1
                Self.start(
                    Round(
                        file: objects.first ?? directories[0], waitingFor: waited, completion: completion,
                        initiator: session, objects: objects, attributeHolders: attributes.intersection(waited)),
                    id: id, in: &state)
            }
            return (id, waited.compactMap { state.peers[$0] }, told.compactMap { state.peers[$0] })
        }
        guard let (id, waited, told) = plan else { return false }
        let notice = LeaseBreakNotice(
            names: Array(names.prefix(LeaseBreakNotice.maximumItems)),
            objects: Array(objects.prefix(LeaseBreakNotice.maximumItems)))
        for peer in told { peer.send(FrameEncoding.notice(notice, id: .none, allocator: peer.allocator)) }
        for peer in waited {
            self.send(
                FrameEncoding.notice(notice, id: TransactionID(id), allocator: peer.allocator), to: peer, round: id,
                timerLoop: timerLoop)
        }
        self.leaseBreaksSent.add(UInt64(waited.count + told.count), ordering: .relaxed)
        guard id != 0 else { return false }
        timerLoop.scheduleTask(in: TimeAmount(self.timeout)) {
            self.expire(id)
        }
        return true
    }

    /// The sessions other than `session` that speak leases: whether a change by `session` may
    /// have anyone to tell (to skip looking up what a removal removes when nobody could care).
    func othersHoldLeases(than session: SessionID) -> Bool {
        self.state.withLock { state in state.leases.sessions.contains { $0 != session } }
    }
}

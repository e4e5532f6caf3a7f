import NIOCore

/// Exclusive write-back grants (DESIGN "Consistency contract" 2, with write-back).
///
/// A client may buffer writes to a file only while it holds the file's grant (WRITEBACK_GRANT).
/// At most one session holds a file's grant, and it is granted only to a session that is alone
/// with the file (no other session has it open): others who have it open read it, and their
/// reads must not wait for anyone. Before the server lets any other session open, read,
/// write, truncate or stat the file, it recalls the grant: RECALL to the holder, which writes its
/// dirty bytes back (ordinary WRITEs, which invalidate the other cachers as usual) and answers
/// GRANT_RELEASE. Only then does the other session's request go ahead, so it sees every byte the
/// holder had buffered.
///
/// A holder that does not answer within `timeout` loses the grant and the waiting requests go
/// ahead without its buffered bytes. Its writes that arrive later are still applied, as any
/// WRITE is (nothing the application wrote is silently dropped; the later bytes simply land
/// after the waiting reader's request).
extension CacheCoherence {
    struct Recall {
        var id: UInt64
        var holder: SessionID
        var waiters: [@Sendable () -> Void]
    }

    /// WRITEBACK_GRANT from `session` for `file`: `completion(true)` once the session holds the
    /// grant (at once, or after recalling it from another holder); false when grants are off or
    /// another session has the file open.
    func grant(
        _ file: ObjectHandle, to session: SessionID, timerLoop: any EventLoop,
        completion: @escaping @Sendable (Bool) -> Void
    ) {
        guard self.enabled else { return completion(false) }
        let take: @Sendable () -> Bool = {
            self.state.withLock { state in
                // Not while a recall of the session's own earlier grant is under way: its
                // GRANT_RELEASE, still to come, would end this grant too.
                guard state.holders[file] == nil || state.holders[file] == session, state.recalls[file] == nil,
                    state.openers[file, default: [:]].keys.allSatisfy({ $0 == session })
                else { return false }
                state.holders[file] = session
                return true
            }
        }
        // Other kernels answer stat from leased attributes without asking the server (whose
        // GETATTR would recall the grant): the grant is answered once they have forgotten them.
        // The holder answers metadata itself under the grant (ConsistencyContract "Write-behind
        // of file metadata"), so a kernel still holding them would show them stale. The client
        // does not wait for the grant (its writes go through meanwhile), and a file nobody else
        // has looked at (a new one) has no lease to break.
        let finish: @Sendable () -> Void = {
            guard take() else { return completion(false) }
            let waiting = self.breakLeases(names: [], objects: [file], by: session, timerLoop: timerLoop) {
                completion(true)
            }
            if !waiting { completion(true) }
        }
        let waiting = self.recallGrant(file, before: session, timerLoop: timerLoop) { finish() }
        if !waiting { finish() }
    }

    /// Before `session` touches `file`: when another session holds the file's grant, recalls it
    /// and runs `then` once it is released (or timed out) and returns true; returns false, and
    /// does not run `then`, when nobody else holds it.
    func recallGrant(
        _ file: ObjectHandle, before session: SessionID, timerLoop: any EventLoop,
        then: @escaping @Sendable () -> Void
    ) -> Bool {
        guard self.enabled else { return false }
        enum Step {
            case proceed
            case joined
            case recall(UInt64, Peer)
        }
        let step: Step = self.state.withLock { state in
            guard let holder = state.holders[file], holder != session else { return .proceed }
            if state.recalls[file] != nil {
                state.recalls[file]!.waiters.append(then)
                return .joined
            }
            guard let peer = state.peers[holder] else {
                // A holder without a connection holds nothing.
                state.holders[file] = nil
                return .proceed
            }
            let id = state.nextNotice
            state.nextNotice += 1
            state.recalls[file] = Recall(id: id, holder: holder, waiters: [then])
            return .recall(id, peer)
        }
        let id: UInt64
        switch step {
        case .proceed: return false
        case .joined: return true
        case .recall(let recallID, let peer):
            id = recallID
            peer.send(FrameEncoding.notice(RecallNotice(handle: file), id: TransactionID(id), allocator: peer.allocator))
        }
        self.recallsSent.add(1, ordering: .relaxed)
        timerLoop.scheduleTask(in: TimeAmount(self.timeout)) {
            self.finishRecall(id, of: file, answered: false)
        }
        return true
    }

    /// GRANT_RELEASE from `session` for RECALL `id`.
    func grantReleased(_ id: TransactionID, by session: SessionID) {
        let file: ObjectHandle? = self.state.withLock { state in
            state.recalls.first { $0.value.id == id.rawValue && $0.value.holder == session }?.key
        }
        if let file { self.finishRecall(id.rawValue, of: file, answered: true) }
    }

    /// The recall is over: the holder answered or ran out of time. Either way it holds the grant
    /// no more, and the waiting requests go ahead.
    private func finishRecall(_ id: UInt64, of file: ObjectHandle, answered: Bool) {
        let recall: Recall? = self.state.withLock { state in
            guard let recall = state.recalls[file], recall.id == id else { return nil }
            state.recalls[file] = nil
            if state.holders[file] == recall.holder { state.holders[file] = nil }
            return recall
        }
        guard let recall else { return }
        if !answered {
            self.logger.warning(
                "a client did not give back its write-back grant in time; it loses the grant",
                metadata: ["session": "\(recall.holder.rawValue)"])
        }
        recall.waiters.forEach { $0() }
    }

    /// OPEN or CREATE of `file` by `session` succeeded.
    func fileOpened(_ file: ObjectHandle, by session: SessionID) {
        self.state.withLock { $0.openers[file, default: [:]][session, default: 0] += 1 }
    }

    /// RELEASE of a handle `session` had open on `file`.
    func fileReleased(_ file: ObjectHandle, by session: SessionID) {
        self.state.withLock { state in
            guard let count = state.openers[file]?[session] else { return }
            state.openers[file]![session] = count > 1 ? count - 1 : nil
            if state.openers[file]!.isEmpty {
                state.openers[file] = nil
                if state.removed.contains(file) { Self.drop(file, in: &state) }
            }
        }
    }

    /// The session is gone: it holds no grant, has nothing open, and recalls waiting for it are over. Called with
    /// the state locked; returns the waiters to run once it is unlocked.
    func dropGrants(of session: SessionID, in state: inout State) -> [@Sendable () -> Void] {
        for (file, holder) in state.holders where holder == session { state.holders[file] = nil }
        for file in Array(state.openers.keys) {
            state.openers[file]![session] = nil
            if state.openers[file]!.isEmpty {
                state.openers[file] = nil
                if state.removed.contains(file) { Self.drop(file, in: &state) }
            }
        }
        var waiters: [@Sendable () -> Void] = []
        for (file, recall) in state.recalls where recall.holder == session {
            state.recalls[file] = nil
            waiters += recall.waiters
        }
        return waiters
    }
}

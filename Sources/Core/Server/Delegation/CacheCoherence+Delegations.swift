import NIOCore

extension CacheCoherence {
    /// Sends `notice` to `session` (no answer is tracked here); false when it has no connection.
    func sendNotice<N: WireNotice>(_ notice: N, to session: SessionID) -> Bool {
        guard let peer = self.state.withLock({ $0.peers[session] }) else { return false }
        peer.send(FrameEncoding.notice(notice, id: .none, allocator: peer.allocator))
        return true
    }
}

/// What write-behind of metadata (`WriteBehind`) asks of the write-back buffer.
extension WritebackBuffer {
    /// Whether this client holds `node`'s exclusive write-back grant now.
    public func isGranted(_ node: NodeID) -> Bool {
        self.state.withLock { $0.nodes[node]?.granted ?? false }
    }

    /// The node's deferred write error, taken (reported once), without waiting for a writeback:
    /// for a close answered without waiting.
    public func takeError(_ node: NodeID) -> Errno? {
        self.state.withLock { state in
            guard let error = state.nodes[node]?.error else { return nil }
            state.nodes[node]!.error = nil
            Self.forgetIfIdle(node, in: &state)
            return error
        }
    }
}

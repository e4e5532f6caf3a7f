import NIOCore

/// Streamed writes: a write of one whole transaction, on a node whose exclusive grant this client
/// holds, is sent at once as its own WRITE and answered once queued, without waiting for the
/// server (ConsistencyContract, "Streamed writes under the grant").
///
/// - At most `streamLimit` WRITEs per node are in flight; the writer whose WRITE passes that is
///   answered when the oldest is, so the bytes held for the node stay bounded.
/// - A write is streamed only when the node has no dirty page and no writeback round under way,
///   so no older buffered byte is sent after it; all of the node's streamed WRITEs, and the
///   rounds started while any is in flight, go through one handle, and the server performs
///   overlapping WRITEs of one file and one connection in arrival order (`WriteOrder`): a later
///   write wins.
/// - `writeBack` (fsync, close, RECALL, and whatever asks the server about the node) waits for
///   the streamed WRITEs in flight; their first error is kept for the next fsync or close, once.
extension WritebackBuffer {
    /// Streamed WRITEs in flight per node before a writer waits.
    static var streamLimit: Int { 8 }

    /// Streams the write when it may (see above) and returns true; `answer` runs once the writer
    /// may go on (at once, or when an earlier WRITE is answered). False: not streamed, nothing
    /// was done. `bytes` is copied into the frame before this returns.
    public func stream(
        _ node: NodeID, file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, caller: Caller,
        answer: @escaping @Sendable () -> Void
    ) -> Bool {
        guard bytes.count >= self.maximumTransaction else { return false }
        let admitted: (file: FileHandleID, waits: Bool)? = self.state.withLock { state in
            guard var entry = state.nodes[node], entry.granted, entry.handles[file] != nil, !entry.flushing,
                !state.cache.hasDirtyPages(of: node)
            else { return nil }
            entry.streaming += 1
            let through = entry.streamFile ?? file
            entry.streamFile = through
            entry.caller = caller
            let waits = entry.streaming > Self.streamLimit
            if waits { entry.streamBlocked.append(answer) }
            state.nodes[node] = entry
            return (through, waits)
        }
        guard let admitted else { return false }
        let count = UInt64(bytes.count)
        self.client.send(
            WriteRequest.self, caller: caller, sizeHint: bytes.count + 32,
            encode: { WriteRequest.encode(file: admitted.file, offset: offset, bytes: bytes, into: &$0) }
        ) { result in
            let error: Errno?
            switch result {
            case .success(let written) where written.count == count: error = nil
            case .success: error = .io  // a short write: the rest did not land
            case .failure(let failure as Errno): error = failure
            case .failure: error = .io
            }
            self.streamed(node, error: error)
        }
        if !admitted.waits { answer() }
        return true
    }

    /// One streamed WRITE of `node` was answered: keeps its error, lets one waiting writer go
    /// on, and completes the drain waiters when it was the last.
    private func streamed(_ node: NodeID, error: Errno?) {
        let (unblocked, drained, drainError): ((@Sendable () -> Void)?, [Waiter], Errno?) = self.state.withLock { state in
            guard var entry = state.nodes[node] else { return (nil, [], nil) }
            entry.streaming -= 1
            if let error, entry.error == nil { entry.error = error }
            let unblocked = entry.streamBlocked.isEmpty ? nil : entry.streamBlocked.removeFirst()
            var drained: [Waiter] = []
            var drainError: Errno?
            if entry.streaming == 0 {
                entry.streamFile = nil
                drained = entry.drainWaiters
                entry.drainWaiters = []
                drainError = entry.error
                if drained.contains(where: \.reportsErrors) { entry.error = nil }
            }
            state.nodes[node] = entry
            Self.forgetIfIdle(node, in: &state)
            return (unblocked, drained, drainError)
        }
        unblocked?()
        for waiter in drained { waiter.completion(waiter.reportsErrors ? drainError : nil) }
    }
}

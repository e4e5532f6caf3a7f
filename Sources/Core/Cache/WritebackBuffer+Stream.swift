import NIOCore

/// Streamed writes: a WRITE of a whole transaction (the kernel's largest, as a streaming copy
/// sends) to a file whose grant the client holds is not copied into the `PageCache`. It is sent
/// at once and answered to the kernel before the server has it, so the kernel's next write is
/// on the wire while the server writes this one (ConsistencyContract, "Write-back").
///
/// - At most `streamBudget` bytes of one node are answered early; a write that would pass it is
///   answered when the server has it. The kernel sends a file's next write only after it has
///   its answer, so that bounds the bytes in flight.
/// - A node streams only while it has no dirty page and no writeback round in flight, and a
///   streamed write never overlaps another still in flight: WRITEs that overlap never overtake
///   each other. The node's writeback (`writeBack`) first waits for its streams, so everything
///   that waits for buffered bytes (fsync, close, RECALL, a READ or GETATTR sent to the server,
///   a write that is not streamed) waits for them too.
/// - A failed streamed WRITE that was answered early keeps its errno for the next fsync or
///   close, as a failed writeback does; the node streams no more until that is reported, so the
///   writes after it learn their own errors at once.
extension WritebackBuffer {
    /// The bytes of one node answered before the server has them: four transactions' worth.
    static var streamBudget: Int { 4 << 20 }

    /// The smallest write streamed: a whole transaction, or the kernel's largest write when the
    /// server allows more (the mount caps the kernel's writes at 1 MiB).
    var smallestStreamedWrite: Int { min(self.maximumTransaction, Int(ProtocolVersion.minimumTransactionSize)) }

    /// Sends `bytes` at `offset` through `file` as a streamed WRITE when the node may stream
    /// (above) and returns true. `answer` runs once the kernel may be answered: with nil at once
    /// (within the budget), or when the server has the bytes, with the server's error if any.
    /// `landed` runs when the server has answered the WRITE, before anything that waits for the
    /// node's streams. Returns false, having sent nothing, when the write must take the ordinary
    /// path.
    ///
    /// `bytes` is the kernel's buffer: it is copied into the request frame before this returns.
    public func stream(
        _ node: NodeID, file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, caller: Caller,
        answer: @escaping @Sendable (Errno?) -> Void, landed: @escaping @Sendable () -> Void = {}
    ) -> Bool {
        let count = bytes.count
        let range = offset..<offset + UInt64(count)
        let early: Bool? = self.state.withLock { state in
            guard count >= self.smallestStreamedWrite, var entry = state.nodes[node], entry.granted,
                entry.handles[file] != nil, entry.error == nil, !entry.flushing, !state.cache.hasDirtyPages(of: node),
                !entry.streams.contains(where: { $0.overlaps(range) })
            else { return nil }
            let inFlight = entry.streams.reduce(0) { $0 + $1.count }
            entry.streams.append(range)
            state.nodes[node] = entry
            state.streamedWrites &+= 1
            return inFlight + count <= Self.streamBudget
        }
        guard let early else { return false }
        self.client.send(
            WriteRequest.self, caller: caller, sizeHint: count + 32,
            encode: { WriteRequest.encode(file: file, offset: offset, bytes: bytes, into: &$0) }
        ) { result in
            let error = Self.writeError(result.map(\.count), expected: count)
            landed()
            self.streamed(node, range, deferredError: early ? error : nil)
            if !early { answer(error) }
        }
        if early { answer(nil) }
        return true
    }

    /// A streamed WRITE is answered: keep its error for the node when it was answered early,
    /// and run what waited for the node's streams once none is in flight.
    private func streamed(_ node: NodeID, _ range: Range<UInt64>, deferredError: Errno?) {
        let drained: [@Sendable () -> Void] = self.state.withLock { state in
            guard var entry = state.nodes[node] else { return [] }
            if let index = entry.streams.firstIndex(of: range) { entry.streams.remove(at: index) }
            if let deferredError, entry.error == nil { entry.error = deferredError }
            var drained: [@Sendable () -> Void] = []
            if entry.streams.isEmpty { swap(&drained, &entry.afterStreams) }
            state.nodes[node] = entry
            Self.forgetIfIdle(node, in: &state)
            return drained
        }
        for body in drained { body() }
    }

    /// The errno a WRITE's result stands for: nil when all `expected` bytes landed, EIO for a
    /// short write (the rest did not land).
    static func writeError(_ result: Result<UInt64, any Error>, expected: Int) -> Errno? {
        switch result {
        case .success(let written) where written == UInt64(expected): return nil
        case .success: return .io
        case .failure(let failure as Errno): return failure
        case .failure: return .io
        }
    }
}

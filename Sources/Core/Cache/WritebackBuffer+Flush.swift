import NIOCore

/// Writing dirty pages back: one round of coalesced WRITEs per node at a time, rounds repeated
/// while callers keep asking, errors kept for the next fsync or close.
extension WritebackBuffer {
    /// Writes back every dirty page of `node`, after its streamed writes; `completion` runs (on
    /// the event loop, or at once) when the streams and the pages dirty at the time of the call
    /// are on the server or failed. With `reportsErrors` it receives the node's deferred write
    /// error (and clears it).
    public func writeBack(
        _ node: NodeID, reportsErrors: Bool, completion: @escaping @Sendable (Errno?) -> Void
    ) {
        let waiter = Waiter(reportsErrors: reportsErrors, completion: completion)
        enum Step {
            case done(Errno?)
            case joined
            case start
        }
        let step: Step = self.state.withLock { state in
            guard state.nodes[node] != nil || state.cache.hasDirtyPages(of: node) else { return .done(nil) }
            var entry = state.nodes[node] ?? NodeState()
            defer { state.nodes[node] = entry }
            if !entry.streams.isEmpty {
                entry.afterStreams.append {
                    self.writeBack(node, reportsErrors: reportsErrors, completion: completion)
                }
                return .joined
            }
            if entry.flushing {
                entry.waiters.append(waiter)
                entry.again = true
                return .joined
            }
            guard state.cache.hasDirtyPages(of: node) else {
                guard reportsErrors else { return .done(nil) }
                defer { entry.error = nil }
                return .done(entry.error)
            }
            entry.flushing = true
            entry.waiters = [waiter]
            entry.landedAttributes = nil
            entry.roundFailed = false
            return .start
        }
        switch step {
        case .done(let error): completion(error)
        case .joined: break
        case .start: self.round(node)
        }
    }

    /// Writes back every node with dirty pages; `completion` runs when all are done. Errors stay
    /// with their nodes for fsync and close.
    public func writeBackAll(completion: @escaping @Sendable () -> Void) {
        let nodes = self.state.withLock { state in
            Set(state.cache.dirtyNodes).union(state.nodes.keys.filter(state.isStreaming))
        }
        guard !nodes.isEmpty else { return completion() }
        let remaining = Countdown(nodes.count)
        for node in nodes {
            self.writeBack(node, reportsErrors: false) { _ in
                if remaining.decrement() { completion() }
            }
        }
    }

    /// `writeBackAll` as an `async` function (unmount).
    public func writeBackAll() async {
        await withCheckedContinuation { continuation in self.writeBackAll { continuation.resume() } }
    }

    /// Starts writing back all dirty pages every `interval` on `eventLoop`, so buffered bytes
    /// reach the server within about that long even when nobody calls fsync or close.
    public func startTimer(every interval: TimeAmount, on eventLoop: any EventLoop) -> RepeatedTask {
        eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            self.writeBackAll {}
        }
    }

    /// The bytes one round copies out of the cache and sends: four transactions' worth in flight
    /// at a time, so a writeback of a large dirty set never doubles the memory it holds.
    static var roundBudget: Int { 4 << 20 }

    /// One round: plans the node's extents, sends them all (pipelined), and when every reply is
    /// in, runs another round if asked for meanwhile or completes the waiters.
    private func round(_ node: NodeID) {
        let plan: (extents: [WritebackExtent], file: FileHandleID?, caller: Caller) = self.state.withLock { state in
            let extents = state.cache.planWriteback(
                node, maximumTransaction: self.maximumTransaction, budget: Self.roundBudget)
            state.nodes[node]!.leftBehind = extents.reduce(0) { $0 + $1.bytes.count } >= Self.roundBudget
            state.nodes[node]!.absorbedAtPlan = state.nodes[node]!.absorbed
            let entry = state.nodes[node]!
            return (extents, entry.handles.keys.first, entry.caller)
        }
        guard let file = plan.file else {
            // Unreachable while handles are released only after their node's writeback; if it
            // happens anyway, the bytes cannot be sent, and fsync or close says so.
            self.state.withLock { state in
                plan.extents.forEach { state.cache.completeWriteback($0) }
                state.nodes[node]!.error = state.nodes[node]!.error ?? .io
            }
            return self.finishRound(node)
        }
        let remaining = Countdown(plan.extents.count)
        for extent in plan.extents {
            // Straight from the extent into the frame: one copy.
            self.client.send(
                WriteRequest.self, caller: plan.caller, sizeHint: extent.bytes.count + 32,
                encode: { buffer in
                    extent.bytes.withUnsafeBytes {
                        WriteRequest.encode(file: file, offset: extent.offset, bytes: $0, into: &buffer)
                    }
                }
            ) { result in
                let error = Self.writeError(result.map(\.count), expected: extent.bytes.count)
                self.state.withLock { state in
                    state.cache.completeWriteback(extent)
                    if let error, state.nodes[node]!.error == nil { state.nodes[node]!.error = error }
                    if error != nil { state.nodes[node]!.roundFailed = true }
                    if case .success(let response) = result, let attributes = response.attributes {
                        state.nodes[node]!.landedAttributes = Self.later(state.nodes[node]!.landedAttributes, attributes)
                    }
                }
                if remaining.decrement() { self.finishRound(node) }
            }
        }
        if plan.extents.isEmpty { self.finishRound(node) }
    }

    /// Of two snapshots of one file's attributes taken while only this client wrote it, the one
    /// taken later: the change time never goes back, and within one clock tick the size only grows.
    static func later(_ earlier: FileAttributes?, _ other: FileAttributes) -> FileAttributes {
        guard let earlier else { return other }
        let key = { (a: FileAttributes) in (a.changeTime.seconds, a.changeTime.nanoseconds, a.size) }
        return key(other) >= key(earlier) ? other : earlier
    }

    private func finishRound(_ node: NodeID) {
        var landed: (FileAttributes, UInt64)?
        let finished: (waiters: [Waiter], error: Errno?)? = self.state.withLock { state in
            // Another round when asked for meanwhile, or when the budget left pages behind. (No
            // endless rounds: the kernel holds the inode lock over fsync and flush, so the waiters'
            // node gets no new writes.)
            if state.nodes[node]!.again || (state.nodes[node]!.leftBehind && state.cache.hasDirtyPages(of: node)) {
                state.nodes[node]!.again = false
                return nil
            }
            var entry = state.nodes[node]!
            if let attributes = entry.landedAttributes, !entry.roundFailed, !state.cache.hasDirtyPages(of: node),
                entry.absorbed == entry.absorbedAtPlan
            {
                landed = (attributes, entry.absorbedAtPlan)
            }
            entry.landedAttributes = nil
            let waiters = entry.waiters
            let error = entry.error
            if waiters.contains(where: \.reportsErrors) { entry.error = nil }
            entry.waiters = []
            entry.flushing = false
            state.nodes[node] = entry
            Self.forgetIfIdle(node, in: &state)
            return (waiters, error)
        }
        guard let finished else { return self.round(node) }
        if let (attributes, absorbed) = landed, let handler = self.landedHandler.withLock({ $0 }) {
            handler.call((node, attributes, absorbed))
        }
        for waiter in finished.waiters { waiter.completion(waiter.reportsErrors ? finished.error : nil) }
    }
}

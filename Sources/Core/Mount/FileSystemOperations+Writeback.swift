import NIOCore

/// Write-back on the FUSE side: which writes the `WritebackBuffer` absorbs, and the rule that
/// keeps the server's answers true while bytes are buffered: before the server is asked about a
/// node's data or size, the node's dirty bytes go there first.
extension FileSystemOperations {
    /// Records a successful OPEN or CREATE; a handle that may buffer writes asks for the grant,
    /// unless the CREATE brought it (`granted`).
    func registerOpen(_ file: FileHandleID, node: NodeID, flags: UInt32, granted: Bool = false) {
        let open = OpenFileTable.OpenFile(node: node, flags: flags, caching: self.caches(flags: flags))
        self.openFiles.opened(file, open)
        self.writeBehind?.opened(file, node: node)
        if let writeback = self.writeback, open.mayBufferWrites, let handle = self.inodes.handle(for: node) {
            writeback.opened(file, node: node, handle: handle, granted: granted)
        }
    }

    /// Whether a CREATE with `flags` asks for the new file's grant in the same round trip.
    func wantsGrantAtCreate(flags: UInt32) -> Bool {
        self.writeback != nil && self.client.hello.capabilities.contains(.grantOnCreate)
            && OpenFileTable.OpenFile(node: NodeID(0), flags: flags, caching: self.caches(flags: flags)).mayBufferWrites
    }

    /// Runs `body` once `node`'s metadata answered locally is applied (`WriteBehind`) and its
    /// dirty bytes in the range (all of them when `length` is nil) are on the server: at once
    /// when there are none.
    func afterWriteback(
        of node: NodeID?, offset: UInt64 = 0, length: Int? = nil, _ body: @escaping @Sendable () -> Void
    ) {
        guard let writeback = self.writeback, let node else { return body() }
        if let writeBehind = self.writeBehind, writeBehind.isPending(node) {
            return writeBehind.afterPending(node) {
                self.afterWriteback(of: node, offset: offset, length: length, body)
            }
        }
        let dirty =
            length.map { writeback.hasDirtyPages(of: node, offset: offset, length: $0) }
            ?? writeback.hasDirtyPages(of: node)
        guard dirty else { return body() }
        writeback.writeBack(node, reportsErrors: false) { _ in body() }
    }

    /// Tries to answer a WRITE from the write-back buffer, or streams it. Returns false when the
    /// caller must send it (the buffer has then already written the node's earlier dirty bytes
    /// back, or there were none); true when it is answered or will be.
    func bufferWrite(
        file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, caller: Caller, reply: WriteReply,
        send: @escaping @Sendable (ByteBuffer) -> Void
    ) -> Bool {
        guard let writeback = self.writeback, let node = self.openFiles[file]?.node else { return false }
        let count = UInt64(bytes.count)
        if let writeBehind = self.writeBehind, writeBehind.isPending(node) {
            // Not buffered behind metadata still on its way: sent once that is applied.
            let data = ByteBuffer(bytes: bytes)
            writeBehind.afterPending(node) { send(data) }
            return true
        }
        // A streamed write's size and times are the server's, as for a write sent the ordinary
        // way: what was known is forgotten when it is answered and again when it lands (what was
        // learned meanwhile may predate it), and the next GETATTR waits for the streams.
        let streamed = writeback.stream(
            node, file: file, offset: offset, bytes: bytes, caller: caller,
            answer: { error in
                self.writeBehind?.changedOnServer(node)
                if let error { return reply.error(error) }
                reply.written(count)
            },
            landed: { self.writeBehind?.changedOnServer(node) })
        if streamed { return true }
        switch writeback.write(node, file: file, offset: offset, bytes: bytes, caller: caller) {
        case .absorbed(mustWait: false):
            self.writeBehind?.wrote(node, offset: offset, count: count)
            reply.written(count)
        case .absorbed(mustWait: true):
            self.writeBehind?.wrote(node, offset: offset, count: count)
            // Memory pressure: this writer waits until the buffered bytes are on the server.
            writeback.writeBackAll { reply.written(count) }
        case .writeThrough(writeBackFirst: false):
            return false
        case .writeThrough(writeBackFirst: true):
            // The kernel's buffer is gone once this returns: keep a copy for after the writeback.
            let data = ByteBuffer(bytes: bytes)
            writeback.writeBack(node, reportsErrors: false) { _ in send(data) }
        }
        return true
    }

    /// Waits for the node's metadata answered locally to be applied, writes its dirty bytes
    /// back and runs `body` with the descriptor's deferred error, if any (fsync and close report
    /// it): a refused metadata request first, else a failed write-back.
    func writeBackReportingErrors(_ file: FileHandleID, _ body: @escaping @Sendable (Errno?) -> Void) {
        guard let writeback = self.writeback, let node = self.openFiles[file]?.node else { return body(nil) }
        let writeBehind = self.writeBehind
        let run: @Sendable () -> Void = {
            let refused = writeBehind?.reportError(file)
            writeback.writeBack(node, reportsErrors: true) { body(refused ?? $0) }
        }
        guard let writeBehind else { return run() }
        writeBehind.afterPending(node, run)
    }

    /// RECALL from the server: write the file's dirty bytes back, stop buffering, answer.
    func handleRecall(_ frame: Frame) {
        let notice: RecallNotice
        do {
            notice = try RecallNotice.decode(payload: frame.payload)
        } catch {
            self.logger.error("malformed RECALL notice", metadata: [LogKey.error: "\(error)"])
            return
        }
        let id = frame.header.transaction
        let client = self.client
        let release: @Sendable () -> Void = {
            client.send(GrantReleaseRequest(notice: id), caller: .root) { _ in }
        }
        guard let writeback = self.writeback else { return release() }
        // The grant is cleared first, then the node's metadata answered locally is applied:
        // nothing more is answered locally once the chain is waited for (`WriteBehind`).
        writeback.recall(notice.handle) {
            guard let writeBehind = self.writeBehind, let node = self.inodes.node(for: notice.handle) else {
                return release()
            }
            writeBehind.afterPending(node) {
                writeBehind.unknown([node])
                writeback.writeBack(node, reportsErrors: false) { _ in release() }
            }
        }
    }
}

import NIOCore

/// Write-back on the FUSE side: which writes the `WritebackBuffer` absorbs, and the rule that
/// keeps the server's answers true while bytes are buffered: before the server is asked about a
/// node's data or size, the node's dirty bytes go there first.
extension FileSystemOperations {
    /// Records a successful OPEN or CREATE; a handle that may buffer writes asks for the grant.
    func registerOpen(_ file: FileHandleID, node: NodeID, flags: UInt32) {
        let open = OpenFileTable.OpenFile(node: node, flags: flags, caching: self.caches(flags: flags))
        self.openFiles.opened(file, open)
        if let writeback = self.writeback, open.mayBufferWrites, let handle = self.inodes.handle(for: node) {
            writeback.opened(file, node: node, handle: handle)
        }
    }

    /// Runs `body` once `node`'s dirty bytes in the range (all of them when `length` is nil) are
    /// on the server: at once when there are none.
    func afterWriteback(
        of node: NodeID?, offset: UInt64 = 0, length: Int? = nil, _ body: @escaping @Sendable () -> Void
    ) {
        guard let writeback = self.writeback, let node else { return body() }
        let dirty =
            length.map { writeback.hasDirtyPages(of: node, offset: offset, length: $0) }
            ?? writeback.hasDirtyPages(of: node)
        guard dirty else { return body() }
        writeback.writeBack(node, reportsErrors: false) { _ in body() }
    }

    /// Tries to answer a WRITE from the write-back buffer. Returns false when the caller must
    /// send it (the buffer has then already written the node's earlier dirty bytes back, or
    /// there were none); true when it is answered or will be.
    func bufferWrite(
        file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, caller: Caller, reply: WriteReply,
        send: @escaping @Sendable (ByteBuffer) -> Void
    ) -> Bool {
        guard let writeback = self.writeback, let node = self.openFiles[file]?.node else { return false }
        let count = UInt64(bytes.count)
        switch writeback.write(node, file: file, offset: offset, bytes: bytes, caller: caller) {
        case .absorbed(mustWait: false):
            reply.written(count)
        case .absorbed(mustWait: true):
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

    /// Writes the node's dirty bytes back and runs `body` with the node's deferred write error,
    /// if any (fsync and close report it).
    func writeBackReportingErrors(_ file: FileHandleID, _ body: @escaping @Sendable (Errno?) -> Void) {
        guard let writeback = self.writeback, let node = self.openFiles[file]?.node else { return body(nil) }
        writeback.writeBack(node, reportsErrors: true, completion: body)
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
        writeback.recall(notice.handle, done: release)
    }
}

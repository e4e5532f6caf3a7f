import NIOCore

/// O_APPEND across clients: every `write(2)` on an O_APPEND handle is one APPEND, which the
/// server writes at its own end of file as one transaction (ConsistencyContract, "Appends").
///
/// The kernel computes an O_APPEND write's offset from its cached size, which another client's
/// appends make stale, and a cached write goes through the page cache in page-sized pieces. So
/// O_APPEND handles are opened for direct I/O (no page cache, no write-back buffer: see
/// `caches(flags:)`), and the offset the kernel passes is ignored.
extension FileSystemOperations {
    /// Whether writes through a handle opened with `flags` travel as APPEND: O_APPEND handles,
    /// when the server has `atomicAppend`.
    func appendsAtomically(flags: UInt32) -> Bool {
        Int32(bitPattern: flags) & 0o2000 != 0  // O_APPEND
            && self.client.hello.capabilities.contains(.atomicAppend)
    }

    /// `bytes` is the kernel's buffer, valid only during this call: it is copied into the
    /// request frame (or, when buffered bytes of the node must reach the server first, into a
    /// buffer of its own) before this returns.
    func append(file: FileHandleID, node: NodeID, bytes: UnsafeRawBufferPointer, caller: Caller, reply: WriteReply) {
        // Bytes another handle of this mount wrote and still buffers were written first: they
        // go first, so the append lands after them.
        if let writeback = self.writeback, writeback.hasDirtyPages(of: node) {
            let data = ByteBuffer(bytes: bytes)
            writeback.writeBack(node, reportsErrors: false) { _ in
                self.perform(AppendRequest(file: file, data: data), caller: caller, reply: reply) { response in
                    self.appended(response, node: node, reply: reply)
                }
            }
            return
        }
        self.client.send(
            AppendRequest.self, caller: caller, sizeHint: bytes.count + 24,
            encode: { AppendRequest.encode(file: file, bytes: bytes, into: &$0) }
        ) { result in
            switch result {
            case .success(let response): self.appended(response, node: node, reply: reply)
            case .failure(let error): reply.fail(error)
            }
        }
    }

    /// The kernel may cache pages of the node through other handles of this mount, and its idea
    /// of the size is what it guessed the offset to be: drop both for the range the server
    /// used. (The server invalidates other clients' caches before it answered.)
    private func appended(_ response: AppendResponse, node: NodeID, reply: WriteReply) {
        self.writeBehind?.changedOnServer(node)
        reply.written(response.count)
        guard self.options.cache == .strict, let notifier = self.notifier else { return }
        notifier.invalidate(
            node, offset: Int64(clamping: response.offset), length: Int64(clamping: max(response.count, 1))) {}
    }
}

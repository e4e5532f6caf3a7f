/// Server-driven cache coherence on the client: INVALIDATE notices drop the named pages from the
/// kernel's cache, and the server hears back only once they are gone.
extension FileSystemOperations {
    /// Handles one notice from the server (called on the network thread).
    public func handleNotice(_ frame: Frame) {
        if frame.header.opcode == .recall { return self.handleRecall(frame) }
        guard frame.header.opcode == .invalidate else {
            self.logger.debug("ignoring notice", metadata: [LogKey.opcode: "\(frame.header.opcode)"])
            return
        }
        let notice: InvalidateNotice
        do {
            notice = try InvalidateNotice.decode(payload: frame.payload)
        } catch {
            self.logger.error("malformed INVALIDATE notice", metadata: [LogKey.error: "\(error)"])
            return
        }
        let id = frame.header.transaction
        let client = self.client
        let acknowledge: @Sendable () -> Void = {
            client.send(InvalidateDoneRequest(notice: id), caller: .root) { _ in }
        }
        // A node the kernel does not know has nothing cached.
        guard let node = self.inodes.node(for: notice.handle), let notifier = self.notifier else {
            return acknowledge()
        }
        let offset: Int64 =
            notice.offset == InvalidateNotice.attributesOnly ? -1 : Int64(clamping: notice.offset)
        notifier.invalidate(node, offset: offset, length: Int64(clamping: notice.length), done: acknowledge)
    }
}

/// FLUSH under the write-back grant (`WriteBehind`): answered at once, with the buffered bytes
/// on their way and the errors already known.
extension FileSystemOperations {
    /// Answers FLUSH of `file` here when the node's grant is held (the caller checked that the
    /// closing owner holds no lock): the writeback starts, `close` does not wait for it. Reports
    /// the error recorded for the descriptor or the node's failed write-back, if known by now.
    /// False when the FLUSH must go the ordinary way.
    func flushBehind(file: FileHandleID, node: NodeID, reply: EmptyReply) -> Bool {
        guard let writeBehind = self.writeBehind, let writeback = self.writeback, writeBehind.mayAnswerFlush(node)
        else { return false }
        // The bytes leave now; queued metadata leaves with the RELEASE that follows.
        if !writeBehind.isPending(node) { writeback.writeBack(node, reportsErrors: false) { _ in } }
        if let error = writeBehind.reportError(file) ?? writeback.takeError(node) {
            reply.error(error)
        } else {
            reply.ok()
        }
        return true
    }
}

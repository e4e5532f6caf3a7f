/// FLUSH under the write-back grant (`WriteBehind`): the file's buffered bytes go to the server
/// first, as on every close, but its metadata answered locally does not have to be applied.
extension FileSystemOperations {
    /// Answers FLUSH of `file` when the node's grant is held (the caller checked that the closing
    /// owner holds no lock, so the server has nothing to do for it): once the node's dirty bytes
    /// are on the server (older than any metadata still queued: writes are not buffered while
    /// some is), with the descriptor's recorded error or the node's failed write-back. False when
    /// the FLUSH must go the ordinary way (waiting for the queued metadata too).
    func flushBehind(file: FileHandleID, node: NodeID, reply: EmptyReply) -> Bool {
        guard let writeBehind = self.writeBehind, let writeback = self.writeback, writeBehind.mayAnswerFlush(node)
        else { return false }
        writeback.writeBack(node, reportsErrors: true) { writebackError in
            if let error = writeBehind.reportError(file) ?? writebackError {
                reply.error(error)
            } else {
                reply.ok()
            }
        }
        return true
    }
}

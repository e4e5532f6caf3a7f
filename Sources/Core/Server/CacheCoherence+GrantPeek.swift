/// A look at the write-back grants that changes nothing, for requests served on the event loop
/// (`RequestRouter+FastRead`): those that would need a recall go to the pool, which recalls.
extension CacheCoherence {
    /// Whether a session other than `session` holds `file`'s grant, or a recall of it is under
    /// way: a request of `session` touching the file must go through `recallGrant` first.
    func grantHeld(_ file: ObjectHandle, byOtherThan session: SessionID) -> Bool {
        guard self.enabled else { return false }
        return self.state.withLock { state in
            if state.recalls[file] != nil { return true }
            guard let holder = state.holders[file] else { return false }
            return holder != session
        }
    }
}

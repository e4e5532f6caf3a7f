/// Write-back grants for write-behind of metadata: the grant taken with CREATE, and what the
/// recall in front of LOOKUP (`RequestRouter+WriteBehind`) asks first, cheaply.
extension CacheCoherence {
    /// CREATE with `CreateRequest.wantsGrant`: `session` takes the file's grant if WRITEBACK_GRANT
    /// would give it at once, with nobody to recall or tell (no other session has the file open,
    /// holds or is being recalled from its grant, or holds a lease on its attributes).
    func grantAtCreate(_ file: ObjectHandle, to session: SessionID) -> Bool {
        guard self.enabled else { return false }
        return self.state.withLock { state in
            guard state.holders[file] == nil || state.holders[file] == session, state.recalls[file] == nil,
                state.openers[file, default: [:]].keys.allSatisfy({ $0 == session }),
                state.leases.attributeHolders[file, default: []].subtracting([session]).isEmpty
            else { return false }
            state.holders[file] = session
            return true
        }
    }

    /// Whether any session holds a write-back grant now.
    func anyGrantHeld() -> Bool {
        self.enabled && self.state.withLock { !$0.holders.isEmpty }
    }
}

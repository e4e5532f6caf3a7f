/// What the recall in front of LOOKUP (`RequestRouter+WriteBehind`) asks first, cheaply.
extension CacheCoherence {
    /// Whether any session holds a write-back grant now.
    func anyGrantHeld() -> Bool {
        self.enabled && self.state.withLock { !$0.holders.isEmpty }
    }
}

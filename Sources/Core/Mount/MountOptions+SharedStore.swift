extension MountOptions {
    /// The options a mount runs with against a server that says other servers change its export
    /// too (`sharedStore`): no page cache (every open direct I/O, no write-back), no leases, and
    /// kernel entry, attribute and negative timeouts of 0, so every read, `stat` and lookup
    /// reaches the server (ConsistencyContract, "Several servers over one CephFS").
    func cachingNothing() -> MountOptions {
        var options = self
        options.cache = .none
        options.writeback = false
        options.leases = false
        options.entryTimeout = 0
        options.attributeTimeout = 0
        options.negativeTimeout = 0
        return options
    }
}

/// Server-driven cache coherence on the client: INVALIDATE notices drop the named pages from the
/// kernel's cache, and the server hears back only once they are gone.
extension FileSystemOperations {
    /// Handles one notice from the server (called on the network thread).
    public func handleNotice(_ frame: Frame) {
        if frame.header.opcode == .recall { return self.handleRecall(frame) }
        if frame.header.opcode == .leaseBreak { return self.handleLeaseBreak(frame) }
        if frame.header.opcode == .delegationRecall { return self.handleDelegationRecall(frame) }
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
        let node = self.inodes.node(for: notice.handle)
        // Replies still in flight no longer carry a lease: the attributes changed.
        self.leases?.broke(node.map { [$0] } ?? [])
        // A first read kept from an OPEN may be older than this change.
        self.client.dataChanges.heard()
        if let node { self.writeBehind?.unknown([node]) }
        guard let node, let notifier = self.notifier else {
            return acknowledge()
        }
        let offset: Int64 =
            notice.offset == InvalidateNotice.attributesOnly ? -1 : Int64(clamping: notice.offset)
        notifier.invalidate(node, offset: offset, length: Int64(clamping: notice.length), done: acknowledge)
    }

    /// LEASE_BREAK: the kernel forgets the names and attributes the notice lists (on the
    /// notifier's thread: forgetting a name takes its directory's lock, which a request of ours
    /// may hold while it waits on this very thread), then the server hears back.
    func handleLeaseBreak(_ frame: Frame) {
        let notice: LeaseBreakNotice
        do {
            notice = try LeaseBreakNotice.decode(payload: frame.payload)
        } catch {
            self.logger.error("malformed LEASE_BREAK notice", metadata: [LogKey.error: "\(error)"])
            return
        }
        let id = frame.header.transaction
        let client = self.client
        let acknowledge: @Sendable () -> Void = {
            guard id != .none else { return }
            client.send(InvalidateDoneRequest(notice: id), caller: .root) { _ in }
        }
        var forgetting = KernelForgetting(entries: [], nodes: [])
        for leased in notice.names {
            guard let parent = self.inodes.node(for: leased.directory) else { continue }
            self.leases?.forget(leased.name, in: parent)
            forgetting.entries.append((parent, leased.name))
        }
        forgetting.nodes = notice.objects.compactMap { self.inodes.node(for: $0) }
        // Counted first, on the network thread: a reply that follows this notice was read
        // before the change and must not be cached under the lease.
        self.leases?.broke(forgetting.nodes)
        self.client.dataChanges.heard()
        self.writeBehind?.unknown(forgetting.nodes)
        guard !forgetting.isEmpty, let notifier = self.notifier as? any EntryNotifier else { return acknowledge() }
        notifier.forget(forgetting, done: acknowledge)
    }

    /// The connection was lost and is back: the server dropped this session's leases meanwhile
    /// and may have missed telling it of changes, so the kernel forgets every name and
    /// attribute it kept under a lease before anything is resent.
    public func leasesLost() {
        // The server ended this session's delegations with the connection.
        self.delegations?.lost()
        guard let leases = self.leases, let notifier = self.notifier as? any EntryNotifier else { return }
        let names = leases.renew()
        var forgetting = KernelForgetting(entries: [], nodes: self.inodes.allNodes)
        for (parent, set) in names { for name in set { forgetting.entries.append((parent, name)) } }
        notifier.forget(forgetting) {}
    }
}

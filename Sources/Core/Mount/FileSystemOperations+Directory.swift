/// Directory listings and extended attributes.
extension FileSystemOperations {
    public func opendir(_ node: NodeID, caller: Caller, reply: OpenReply) {
        guard let handle = self.handle(node, reply) else { return }
        // The listing shows what this client answered locally.
        if self.delegationLog.isBusy { return self.afterDelegatedLog { self.opendir(node, caller: caller, reply: reply) } }
        let ticket = self.leases?.ticket()
        self.perform(OpendirRequest(handle: handle), caller: caller, reply: reply) { response in
            // Under the lease on its names (OPENDIR grants it) the kernel keeps the listing across
            // opens: a change by another client breaks the directory's attributes with it, and
            // the kernel drops a cached listing whose directory's mtime moved.
            let leased = ticket.map { self.leases?.holds($0) ?? false } ?? false
            self.delegations?.openedDirectory(response.file, node: node)
            reply.opened(
                OpenParameters(file: response.file, directIO: false, keepCache: leased, cacheListing: leased))
        }
    }

    /// Lists from `offset` (0, or the `nextOffset` of an entry already returned), answering with
    /// as many entries as fit in `size` bytes. For readdirplus, only entries that really reach the
    /// kernel get their lookup count incremented.
    public func readdir(directory: FileHandleID, offset: UInt64, size: Int, plus: Bool, caller: Caller, reply: DirectoryReply) {
        let perEntry = DirectoryPacking.entrySize(nameLength: 8, plus: plus)
        let batch = UInt32(max(1, min(size / perEntry + 1, Int(ReaddirRequest.maximumBatch))))
        let request = ReaddirRequest(directory: directory, cookie: offset, maximumEntries: batch, plus: plus)
        self.perform(request, caller: caller, reply: reply) { response in
            let fitting = DirectoryPacking.fittingCount(
                nameLengths: response.entries.map(\.name.bytes.count), plus: plus, size: size)
            let items = response.entries.prefix(fitting).map { entry in
                DirectoryItem(
                    name: entry.name, nextOffset: entry.cookie, inode: entry.inode, mode: UInt32(entry.type) << 12,
                    entry: plus ? self.directoryEntryParameters(entry) : nil)
            }
            reply.items(items, plus: plus, size: size)
        }
    }

    private func directoryEntryParameters(_ entry: DirectoryEntry) -> EntryParameters {
        guard let described = entry.entry else {
            // `.`, `..` and entries the server could not describe: node 0 tells the kernel to
            // skip the dentry and look the name up itself when it needs it.
            return EntryParameters(node: NodeID(0), attributes: nil, attributeTimeout: 0, entryTimeout: 0)
        }
        return self.entryParameters(described)
    }

    public func releasedir(directory: FileHandleID, caller: Caller, reply: EmptyReply) {
        self.delegations?.closedDirectory(directory)
        self.replyEmpty(ReleasedirRequest(directory: directory), caller: caller, reply: reply)
    }

    public func setxattr(_ node: NodeID, name: [UInt8], value: [UInt8], flags: UInt32, caller: Caller, reply: EmptyReply) {
        guard let handle = self.handle(node, reply) else { return }
        // Before and after: a GETXATTR answered in between must not be remembered.
        self.leases?.broke([node])
        self.writeBehind?.changedOnServer(node)
        self.perform(SetxattrRequest(handle: handle, name: name, value: value, flags: flags), caller: caller, reply: reply) {
            _ in
            self.leases?.broke([node])
            reply.ok()
        }
    }

    public func getxattr(_ node: NodeID, name: [UInt8], size: UInt32, caller: Caller, reply: XattrReply) {
        guard let handle = self.handle(node, reply) else { return }
        // The kernel asks for security.capability before every write(2) (FUSE clears S_NOSEC):
        // under the lease on the object's attributes, an absence learned once is the answer.
        let capability = name == Self.capabilityName ? self.leases : nil
        if let capability, capability.hasNoCapability(node) { return reply.error(.noData) }
        let ticket = capability?.ticket()
        self.client.send(GetxattrRequest(handle: handle, name: name, size: size), caller: caller) { result in
            switch result {
            case .success(let response):
                Self.answer(reply, response, askedSize: size)
            case .failure(let error as Errno) where error == .noData:
                if let capability, let ticket { capability.noteNoCapability(node, ticket: ticket) }
                reply.error(.noData)
            case .failure(let error):
                reply.fail(error)
            }
        }
    }

    /// `security.capability`, which the kernel checks before every write.
    static let capabilityName = Array("security.capability".utf8)

    public func listxattr(_ node: NodeID, size: UInt32, caller: Caller, reply: XattrReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.perform(ListxattrRequest(handle: handle, size: size), caller: caller, reply: reply) {
            Self.answer(reply, $0, askedSize: size)
        }
    }

    public func removexattr(_ node: NodeID, name: [UInt8], caller: Caller, reply: EmptyReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.leases?.broke([node])
        self.writeBehind?.changedOnServer(node)
        self.perform(RemovexattrRequest(handle: handle, name: name), caller: caller, reply: reply) { _ in
            self.leases?.broke([node])
            reply.ok()
        }
    }

    private static func answer(_ reply: XattrReply, _ response: XattrResponse, askedSize: UInt32) {
        if askedSize == 0 { reply.size(response.size) } else { reply.value(response.value) }
    }
}

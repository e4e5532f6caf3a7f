/// Directory listings and extended attributes.
extension FileSystemOperations {
    public func opendir(_ node: NodeID, caller: Caller, reply: OpenReply) {
        guard let handle = self.handle(node, reply) else { return }
        if let listings = self.leases?.listings, listings.holds(node, for: caller) {
            // The listing is leased: the kernel keeps what it cached, and asks (READDIR, which
            // opens the directory on the server first) only if it has nothing.
            let id = self.openDirectories.opened(node, server: nil)
            self.delegations?.openedDirectory(id, node: node)
            return reply.opened(OpenParameters(file: id, directIO: false, keepCache: true, cacheListing: true))
        }
        // The listing shows what this client answered locally.
        if self.delegationLog.isBusy { return self.afterDelegatedLog { self.opendir(node, caller: caller, reply: reply) } }
        let ticket = self.leases?.ticket()
        // Under the lease on its names (OPENDIR grants it) the kernel keeps the listing across
        // opens: a change by another client breaks the directory's attributes with it, and the
        // kernel drops a cached listing whose directory's mtime moved.
        @Sendable func opened(_ file: FileHandleID, firstBatch: OpenDirectories.FirstBatch?) {
            let leased = ticket.map { self.leases?.holds($0) ?? false } ?? false
            if let ticket { self.leases?.listings?.leased(node, for: caller) { self.leases?.holds(ticket) ?? false } }
            let id = self.openDirectories.opened(node, server: file)
            if let firstBatch { self.openDirectories.keep(firstBatch, for: id) }
            self.delegations?.openedDirectory(id, node: node)
            reply.opened(OpenParameters(file: id, directIO: false, keepCache: leased, cacheListing: leased))
        }
        guard let request = self.openAndList(handle) else {
            return self.perform(OpendirRequest(handle: handle), caller: caller, reply: reply) {
                opened($0.file, firstBatch: nil)
            }
        }
        let tickets = self.listingTickets(plus: request.plus)
        self.perform(request, caller: caller, reply: reply) { response in
            opened(
                response.file,
                firstBatch: OpenDirectories.FirstBatch(listing: response.listing, plus: request.plus, tickets: tickets))
        }
    }

    /// OPENDIR_LIST of `handle` with a first batch the size of the kernel's usual READDIR buffer
    /// (a page), when the server answers it (capability `openAndList`).
    private func openAndList(_ handle: ObjectHandle) -> OpendirListRequest? {
        guard self.client.hello.capabilities.contains(.openAndList) else { return nil }
        let plus = self.client.hello.capabilities.contains(.readdirPlus)
        let batch = 4096 / DirectoryPacking.entrySize(nameLength: 8, plus: plus) + 1
        return OpendirListRequest(handle: handle, maximumEntries: UInt32(batch), plus: plus)
    }

    /// The lease counters a listing's reply is judged by, taken just before it is asked for.
    private func listingTickets(plus: Bool) -> OpenDirectories.ListingTickets {
        let listings = self.leases?.listings != nil ? self.leases : nil
        return OpenDirectories.ListingTickets(
            lease: listings?.ticket(), listing: listings?.listingTicket(),
            directories: plus ? self.directoryAttributes?.ticket() : nil)
    }

    /// Lists from `offset` (0, or the `nextOffset` of an entry already returned), answering with
    /// as many entries as fit in `size` bytes. For readdirplus, only entries that really reach the
    /// kernel get their lookup count incremented, and they are leased as lookups are when the
    /// server leases listings (`listingLeases`). A directory opened here alone is opened on the
    /// server first. The first READDIR of an open is answered from the batch that came with it
    /// (OPENDIR_LIST) unless a break arrived since.
    public func readdir(directory: FileHandleID, offset: UInt64, size: Int, plus: Bool, caller: Caller, reply: DirectoryReply) {
        guard let open = self.openDirectories[directory] else { return reply.error(.badFileHandle) }
        // The kernel asks once more after the last entry; the server said there was none. From
        // 0 (rewinddir) the server is asked again.
        if offset != 0, open.end == offset { return reply.items([], plus: plus, size: size) }
        if offset == 0, let first = self.openDirectories.takeFirstBatch(directory), self.isCurrent(first) {
            return self.answer(
                first.listing, of: directory, node: open.node, offset: 0, size: size, plus: plus && first.plus,
                tickets: first.tickets, reply: reply)
        }
        // The listing shows what this client answered locally (delegated creates and removes).
        if self.delegationLog.isBusy {
            return self.afterDelegatedLog {
                self.readdir(directory: directory, offset: offset, size: size, plus: plus, caller: caller, reply: reply)
            }
        }
        guard let server = open.server else {
            guard let handle = self.handle(open.node, reply) else { return }
            if offset == 0, let request = self.openAndList(handle) {
                let tickets = self.listingTickets(plus: request.plus)
                return self.perform(request, caller: caller, reply: reply) { response in
                    guard self.openedOnServer(directory, as: response.file, caller: caller, reply: reply) else { return }
                    self.answer(
                        response.listing, of: directory, node: open.node, offset: 0, size: size,
                        plus: plus && request.plus, tickets: tickets, reply: reply)
                }
            }
            return self.perform(OpendirRequest(handle: handle), caller: caller, reply: reply) { response in
                guard self.openedOnServer(directory, as: response.file, caller: caller, reply: reply) else { return }
                self.readdir(directory: directory, offset: offset, size: size, plus: plus, caller: caller, reply: reply)
            }
        }
        let perEntry = DirectoryPacking.entrySize(nameLength: 8, plus: plus)
        let batch = UInt32(max(1, min(size / perEntry + 1, Int(ReaddirRequest.maximumBatch))))
        let request = ReaddirRequest(directory: server, cookie: offset, maximumEntries: batch, plus: plus)
        let tickets = self.listingTickets(plus: plus)
        self.perform(request, caller: caller, reply: reply) { response in
            self.answer(
                response, of: directory, node: open.node, offset: offset, size: size, plus: plus, tickets: tickets,
                reply: reply)
        }
    }

    /// Records that the kernel's `directory` is now open on the server as `file`; false (the
    /// server's handle released, `reply` answered EBADF) when the kernel closed it meanwhile.
    private func openedOnServer(
        _ directory: FileHandleID, as file: FileHandleID, caller: Caller, reply: DirectoryReply
    ) -> Bool {
        guard self.openDirectories.openedOnServer(directory, as: file) else {
            self.client.send(ReleasedirRequest(directory: file), caller: caller) { _ in }
            reply.error(.badFileHandle)
            return false
        }
        return true
    }

    /// Whether the batch that came with the open is still the listing: no break since it was
    /// asked for, or, without leases, it is younger than the attribute timeout (the staleness
    /// the mount accepts everywhere else).
    private func isCurrent(_ batch: OpenDirectories.FirstBatch) -> Bool {
        if let lease = batch.tickets.lease, let leases = self.leases { return leases.holds(lease) }
        return ContinuousClock.now - batch.received < .milliseconds(Int64(self.options.attributeTimeout * 1000))
    }

    /// Hands the kernel what fits of `response`, the listing of open directory `directory` (of
    /// `node`) from `offset`, asked for at `tickets`.
    private func answer(
        _ response: ReaddirResponse, of directory: FileHandleID, node: NodeID, offset: UInt64, size: Int, plus: Bool,
        tickets: OpenDirectories.ListingTickets, reply: DirectoryReply
    ) {
        self.openDirectories.reading(directory, from: offset, ticket: tickets.listing)
        let fitting = DirectoryPacking.fittingCount(
            nameLengths: response.entries.map(\.name.bytes.count), plus: plus, size: size)
        let entries = response.entries.prefix(fitting)
        let items = entries.map { entry in
            DirectoryItem(
                name: entry.name, nextOffset: entry.cookie, inode: entry.inode, mode: UInt32(entry.type) << 12,
                entry: plus ? self.directoryEntryParameters(entry, leased: tickets.lease.map { ($0, node) }) : nil)
        }
        for item in items {
            if let entry = item.entry {
                self.directoryAttributes?.learned(
                    entry.node, entry.attributes, ticket: tickets.directories, at: .init(parent: node, name: item.name))
            }
        }
        let next = entries.last?.cookie ?? offset
        let end = fitting == response.entries.count && response.isEnd
        if end { self.openDirectories.reachedEnd(directory, at: next) }
        if let listings = self.leases, tickets.listing != nil,
            let whole = self.openDirectories.read(directory, names: entries.map(\.name), next: next, end: end)
        {
            listings.listedWhole(whole.node, names: whole.listing.names, ticket: whole.listing.ticket)
        }
        reply.items(items, plus: plus, size: size)
    }

    private func directoryEntryParameters(_ entry: DirectoryEntry, leased: (ticket: UInt64, parent: NodeID)?) -> EntryParameters {
        guard let described = entry.entry else {
            // `.`, `..` and entries the server could not describe: node 0 tells the kernel to
            // skip the dentry and look the name up itself when it needs it.
            return EntryParameters(node: NodeID(0), attributes: nil, attributeTimeout: 0, entryTimeout: 0)
        }
        return self.entryParameters(described, leased: leased.map { ($0.ticket, $0.parent, entry.name) })
    }

    /// A directory never opened on the server is closed here alone; otherwise the server is told
    /// without waiting for its answer when listings are leased (ConsistencyContract).
    public func releasedir(directory: FileHandleID, caller: Caller, reply: EmptyReply) {
        self.delegations?.closedDirectory(directory)
        guard let open = self.openDirectories.released(directory) else { return reply.error(.badFileHandle) }
        guard let server = open.server else { return reply.ok() }
        guard self.leases?.listings != nil else {
            return self.replyEmpty(ReleasedirRequest(directory: server), caller: caller, reply: reply)
        }
        reply.ok()
        self.client.send(ReleasedirRequest(directory: server), caller: caller) { _ in }
    }

    public func setxattr(_ node: NodeID, name: [UInt8], value: [UInt8], flags: UInt32, caller: Caller, reply: EmptyReply) {
        guard let handle = self.handle(node, reply) else { return }
        // Before and after: a GETXATTR answered in between must not be remembered.
        self.leases?.broke([node])
        self.directoryAttributes?.changingPermissions(node)
        self.writeBehind?.changedOnServer(node)
        self.client.send(SetxattrRequest(handle: handle, name: name, value: value, flags: flags), caller: caller) {
            result in
            // Failed here may still be done there (a lost reply): broken either way.
            self.leases?.broke([node])
            switch result {
            case .success: reply.ok()
            case .failure(let error): reply.fail(error)
            }
        }
    }

    public func getxattr(_ node: NodeID, name: [UInt8], size: UInt32, caller: Caller, reply: XattrReply) {
        guard let handle = self.handle(node, reply) else { return }
        // The kernel asks for security.capability before every write(2) (FUSE clears S_NOSEC),
        // `ls -l` for security.selinux and system.posix_acl_access of every file: under the
        // lease on the object's attributes, an absence learned once is the answer.
        let probed = self.leases.flatMap { leases in ProbedXattr(name: name).map { (leases, $0) } }
        if let (leases, xattr) = probed, leases.isAbsent(xattr, of: node, for: caller) { return reply.error(.noData) }
        let ticket = probed?.0.ticket()
        self.client.send(GetxattrRequest(handle: handle, name: name, size: size), caller: caller) { result in
            switch result {
            case .success(let response):
                Self.answer(reply, response, askedSize: size)
            case .failure(let error as Errno) where error == .noData:
                if let (leases, xattr) = probed, let ticket { leases.noteAbsent(xattr, of: node, for: caller, ticket: ticket) }
                reply.error(.noData)
            case .failure(let error):
                reply.fail(error)
            }
        }
    }

    public func listxattr(_ node: NodeID, size: UInt32, caller: Caller, reply: XattrReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.perform(ListxattrRequest(handle: handle, size: size), caller: caller, reply: reply) {
            Self.answer(reply, $0, askedSize: size)
        }
    }

    public func removexattr(_ node: NodeID, name: [UInt8], caller: Caller, reply: EmptyReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.leases?.broke([node])
        self.directoryAttributes?.changingPermissions(node)
        self.writeBehind?.changedOnServer(node)
        self.client.send(RemovexattrRequest(handle: handle, name: name), caller: caller) { result in
            self.leases?.broke([node])
            switch result {
            case .success: reply.ok()
            case .failure(let error): reply.fail(error)
            }
        }
    }

    private static func answer(_ reply: XattrReply, _ response: XattrResponse, askedSize: UInt32) {
        if askedSize == 0 { reply.size(response.size) } else { reply.value(response.value) }
    }
}

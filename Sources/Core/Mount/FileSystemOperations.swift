import Logging
import NIOCore

/// Attribute changes the kernel asks SETATTR to make.
public struct AttributeChanges: Sendable, Equatable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: UInt64?
    public var accessTime: TimeUpdate?
    public var modificationTime: TimeUpdate?
    /// The open file the change is made through, when the kernel names one (ftruncate).
    public var file: FileHandleID?

    public init(
        mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: UInt64? = nil,
        accessTime: TimeUpdate? = nil, modificationTime: TimeUpdate? = nil, file: FileHandleID? = nil
    ) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.accessTime = accessTime
        self.modificationTime = modificationTime
        self.file = file
    }
}

/// The filesystem as the kernel sees it, in FUSE's terms, implemented over the protocol.
///
/// Every method returns at once: it sends one request (pipelined with everything else in
/// flight) and answers the kernel from the completion, on the network thread. None ever waits
/// on the network, so one FUSE loop thread can keep any number of requests in flight.
/// Each method answers its reply object exactly once on every path (the reply objects enforce
/// it); a node the kernel names that is not in the inode table is answered ESTALE.
///
/// No libfuse here: `pohmelfs` adapts libfuse's callbacks to these methods and implements
/// `ReplySink` over `fuse_reply_*`.
public final class FileSystemOperations: Sendable {
    public let client: RPCClient
    public let inodes: InodeTable
    public let options: MountOptions
    /// Drops the kernel's cached pages when the server says so; nil when nothing is cached.
    let notifier: (any KernelNotifier)?
    let logger: Logger
    /// Which node each open handle belongs to.
    public let openFiles = OpenFileTable()
    /// The directories the kernel has open, by the handle it was given.
    let openDirectories = OpenDirectories()
    /// Each calling thread's last LOOKUP, for the OPEN that follows it.
    public let recentLookups = RecentLookups()
    /// Buffered writes (`-o cache=strict` with write-back on); nil when every write goes through.
    public let writeback: WritebackBuffer?
    /// Leases on names and attributes (`-o leases=on` and a server that grants them); nil when
    /// the ordinary timeouts apply to everything.
    public let leases: LeaseState?
    /// Who ever asked for a lock, per node: a FLUSH from anyone else needs no request.
    let lockingOwners = LockingOwners()
    /// Metadata answered locally under the write-back grant and sent behind (`WriteBehind`);
    /// nil without write-back.
    public let writeBehind: WriteBehind?
    /// Directories this client holds (`-o delegation=on`, a server that delegates, and
    /// write-back); nil otherwise.
    public let delegations: DelegatedDirectories?
    /// The log of operations answered in held directories (`DelegationLog`).
    let delegationLog = DelegationLog()
    /// Directories' attributes known under a lease, for GETATTR; nil without leases.
    let directoryAttributes: LeasedDirectoryAttributes?
    /// Bytes OPENs brought, for the first READ of each (`FirstReads`).
    let firstReads = FirstReads()

    public init(
        client: RPCClient, root: ObjectHandle, options: MountOptions, notifier: (any KernelNotifier)?, logger: Logger
    ) {
        self.client = client
        self.inodes = InodeTable(rootHandle: root)
        let options = client.hello.capabilities.contains(.sharedStore) ? options.cachingNothing() : options
        self.options = options
        self.notifier = notifier
        self.logger = logger
        self.writeback =
            options.cache == .strict && options.writeback
            ? WritebackBuffer(client: client, capacity: options.cacheSize) : nil
        self.writeBehind = self.writeback.map { WriteBehind(client: client, writeback: $0, notifier: notifier) }
        self.delegations =
            options.delegation && client.hello.capabilities.contains(.delegation) && self.writeBehind != nil
            ? DelegatedDirectories() : nil
        self.leases =
            options.leases && client.hello.capabilities.contains(.leases) && notifier is any EntryNotifier
            ? LeaseState(
                duration: options.leaseTimeout, listings: client.hello.capabilities.contains(.listingLeases),
                xattrs: client.hello.capabilities.contains(.xattrLeases)) : nil
        self.directoryAttributes = self.leases.map { LeasedDirectoryAttributes(leases: $0) }
    }

    /// Whether an open with `flags` keeps the file's pages in the kernel's cache. O_APPEND
    /// handles never do when the server appends atomically (`appendsAtomically`).
    func caches(flags: UInt32) -> Bool {
        self.options.cache == .strict && (Int32(bitPattern: flags) & 0o40000) == 0  // not O_DIRECT
            && !self.appendsAtomically(flags: flags)
    }

    // MARK: - Plumbing

    /// Sends `request` and hands a successful reply to `success`; failures answer `reply`.
    func perform<R: WireRequest>(
        _ request: R, caller: Caller, reply: Reply, _ success: @escaping @Sendable (R.Response) -> Void
    ) {
        self.client.send(request, caller: caller) { result in
            switch result {
            case .success(let response): success(response)
            case .failure(let error): reply.fail(error)
            }
        }
    }

    /// The handle of `node`, or nil after answering `reply` with ESTALE.
    func handle(_ node: NodeID, _ reply: Reply) -> ObjectHandle? {
        guard let handle = self.inodes.handle(for: node) else {
            reply.error(.stale)
            return nil
        }
        return handle
    }

    /// Registers an entry's node (incrementing its lookup count) and describes it for the kernel.
    /// `leased`: the reply to a request sent at that lease ticket, naming `name` in `parent`.
    func entryParameters(_ entry: Entry, leased: (ticket: UInt64, parent: NodeID, name: FileName)? = nil) -> EntryParameters {
        let timeouts = self.timeouts(leased)
        return EntryParameters(
            node: self.inodes.remember(entry.handle), attributes: entry.attributes,
            attributeTimeout: timeouts.attribute, entryTimeout: timeouts.entry)
    }

    /// The kernel's timeouts for a reply (`LeaseState`): the lease's for a leased reply, 0 for a
    /// reply a break crossed, the mount's ordinary ones without leases or for a reply that
    /// grants none (`leased` nil).
    func timeouts(
        _ leased: (ticket: UInt64, parent: NodeID, name: FileName)?
    ) -> (entry: Double, attribute: Double, negative: Double) {
        let ordinary = (self.options.entryTimeout, self.options.attributeTimeout, self.options.negativeTimeout)
        guard let leases = self.leases, let leased else { return ordinary }
        guard leases.holds(leased.ticket) else { return (0, 0, 0) }
        guard leases.remember(leased.name, in: leased.parent) else { return ordinary }
        return (leases.duration, leases.duration, leases.duration)
    }

    /// The attribute timeout for a GETATTR or SETATTR reply to a request sent at `ticket`.
    func attributeTimeout(_ ticket: UInt64?) -> Double {
        guard let leases = self.leases, let ticket else { return self.options.attributeTimeout }
        return leases.holds(ticket) ? leases.duration : 0
    }

    /// Whether the server is to invalidate this client's pages of a file opened with `flags`
    /// (OPEN's `caching`): every open that caches, and with `-o cache=none` every open that can
    /// be mapped (not O_WRONLY: mmap needs read access), since the kernel keeps the pages of a
    /// shared mapping of a direct-I/O file in its page cache (FUSE_DIRECT_IO_ALLOW_MMAP), and
    /// they must not go stale when another client writes. (With `cache=strict`, an O_DIRECT or
    /// O_APPEND handle is tracked through the file's other, cached opens only; see
    /// ConsistencyContract.)
    func tracksPages(flags: UInt32) -> Bool {
        self.caches(flags: flags) || (self.options.cache == .none && flags & 0o3 != 0o1)  // not O_WRONLY
    }

    /// `cacheValid` comes from the server: the client's earlier pages of the file are still valid.
    func openParameters(_ file: FileHandleID, flags: UInt32, cacheValid: Bool) -> OpenParameters {
        let caches = self.caches(flags: flags)
        return OpenParameters(file: file, directIO: !caches, keepCache: caches && cacheValid)
    }

    /// Answers an entry-creating request (mkdir, mknod, symlink, link) for `name` in `parent`.
    func replyEntry<R: WireRequest>(
        _ request: R, parent: NodeID, name: FileName, caller: Caller, reply: EntryReply
    ) where R.Response == Entry {
        // After the operations answered locally (`afterDelegatedLog`).
        if self.delegationLog.isBusy {
            return self.afterDelegatedLog { self.replyEntry(request, parent: parent, name: name, caller: caller, reply: reply) }
        }
        self.delegations?.asking(name, in: parent)
        self.leases?.adding(name, in: parent)
        let ticket = self.leases?.ticket()
        let directoryTicket = self.directoryAttributes?.ticket()
        self.perform(request, caller: caller, reply: reply) { entry in
            let parameters = self.entryParameters(entry, leased: ticket.map { ($0, parent, name) })
            self.directoryAttributes?.learned(
                parameters.node, entry.attributes, ticket: directoryTicket, at: .init(parent: parent, name: name))
            if R.self == MkdirRequest.self, let ticket { self.leases?.bornEmpty(parameters.node, ticket: ticket) }
            if R.self == MkdirRequest.self, let delegations = self.delegations {
                delegations.born(parameters.node, entry)
                self.refillPool()
                return delegations.whenPoolReady { reply.entry(parameters) }
            }
            reply.entry(parameters)
        }
    }

    /// Answers a request whose reply carries nothing.
    func replyEmpty<R: WireRequest>(_ request: R, caller: Caller, reply: EmptyReply) where R.Response == EmptyResponse {
        self.perform(request, caller: caller, reply: reply) { _ in reply.ok() }
    }

    // MARK: - Nodes

    public func lookup(parent: NodeID, name: FileName, caller: Caller, reply: EntryReply) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        if self.lookupDelegated(parent: parent, parentHandle: parentHandle, name: name, caller: caller, reply: reply) {
            return
        }
        if let leases = self.leases, leases.isKnownAbsent(name, in: parent),
            self.directoryAttributes?.maySearch(parent, caller) ?? false
        {
            // A directory this client made and alone changed: the name is not there (tar's
            // lookup before each create). Only for a caller the server would let search it (its
            // owner, with the search bit); anyone else may be refused EACCES there.
            let timeouts = self.timeouts((leases.ticket(), parent, name))
            if timeouts.negative > 0 {
                return reply.entry(
                    EntryParameters(node: NodeID(0), attributes: nil, attributeTimeout: 0, entryTimeout: timeouts.negative))
            }
            return reply.error(.noEntry)
        }
        self.lookupOnServer(parent: parent, parentHandle: parentHandle, name: name, caller: caller, reply: reply)
    }

    /// LOOKUP sent to the server.
    func lookupOnServer(parent: NodeID, parentHandle: ObjectHandle, name: FileName, caller: Caller, reply: EntryReply) {
        let ticket = self.leases?.ticket()
        let directoryTicket = self.directoryAttributes?.ticket()
        self.client.send(LookupRequest(parent: parentHandle, name: name), caller: caller) { result in
            let leased = ticket.map { ($0, parent, name) }
            switch result {
            case .success(let entry):
                let parameters = self.entryParameters(entry, leased: leased)
                self.directoryAttributes?.learned(
                    parameters.node, entry.attributes, ticket: directoryTicket, at: .init(parent: parent, name: name))
                self.recentLookups.looked(up: parameters.node, by: caller.pid)
                reply.entry(parameters)
            case .failure(let error as Errno) where error == .noEntry && self.timeouts(leased).negative > 0:
                // A negative entry: the kernel remembers the name is absent for the timeout.
                reply.entry(
                    EntryParameters(
                        node: NodeID(0), attributes: nil, attributeTimeout: 0, entryTimeout: self.timeouts(leased).negative))
            case .failure(let error):
                reply.fail(error)
            }
        }
    }

    public func forget(_ node: NodeID, count: UInt64) {
        self.inodes.forget(node, count: count)
        if self.inodes.handle(for: node) == nil {
            self.leases?.forgetDirectory(node)
            self.lockingOwners.forget(node)
            self.writeBehind?.forget(node)
            self.writeback?.forget(node)
            self.delegations?.forget(node)
            self.directoryAttributes?.forget(node)
            self.firstReads.forget(node)
        }
    }

    public func getattr(_ node: NodeID, caller: Caller, reply: AttributesReply) {
        guard let handle = self.handle(node, reply) else { return }
        if let attributes = self.writeBehind?.localAttributes(node) {
            return reply.attributes(attributes, timeout: self.options.attributeTimeout)
        }
        if let leases = self.leases, let attributes = self.directoryAttributes?.attributes(of: node) {
            return reply.attributes(attributes, timeout: leases.duration)
        }
        // The size and times of a file with buffered writes are the server's once they are there
        // (its WRITE replies may have said what they are); a file created here is asked about
        // once the server has made it.
        let beforeWriteback = self.writeBehind?.ticket()
        self.afterDelegatedCreate(of: node) { self.afterWriteback(of: node) {
            if let beforeWriteback, let attributes = self.writeBehind?.learnedFromWriteback(node, ticket: beforeWriteback) {
                return reply.attributes(attributes, timeout: self.options.attributeTimeout)
            }
            let ticket = self.leases?.ticket()
            // Learned only from a reply to a request sent under the grant, too.
            let granted = self.writeback?.isGranted(node) ?? false
            let known = self.writeBehind?.ticket()
            let directoryTicket = self.directoryAttributes?.ticket()
            self.perform(GetattrRequest(handle: handle), caller: caller, reply: reply) {
                if granted { self.writeBehind?.learned(node, $0, underGrant: true, ticket: known) }
                self.directoryAttributes?.learned(node, $0, ticket: directoryTicket)
                reply.attributes($0, timeout: self.attributeTimeout(ticket))
            }
        } }
    }

    public func setattr(_ node: NodeID, changes: AttributeChanges, caller: Caller, reply: AttributesReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.directoryAttributes?.changingPermissions(node)
        // The server's create sets mode, owner and times: a change of them comes after it.
        if self.pendingCreate(node) != nil {
            return self.afterDelegatedCreate(of: node) { self.setattr(node, changes: changes, caller: caller, reply: reply) }
        }
        let request = SetattrRequest(
            handle: handle, file: changes.file, mode: changes.mode, uid: changes.uid, gid: changes.gid,
            size: changes.size, accessTime: changes.accessTime, modificationTime: changes.modificationTime)
        if let attributes = self.writeBehind?.setattr(node, request, changes: changes, caller: caller) {
            return reply.attributes(attributes, timeout: self.options.attributeTimeout)
        }
        // A directory's permissions may change: OPENDIR is checked by the server again.
        self.leases?.listings?.forget(node)
        // Buffered bytes land before a truncation, as they were written before it.
        self.afterWriteback(of: node) {
            let ticket = self.leases?.ticket()
            let granted = self.writeback?.isGranted(node) ?? false
            // What the server decided (set-id bits it cleared, its times) replaces what was known.
            self.writeBehind?.changedOnServer(node)
            let known = self.writeBehind?.ticket()
            self.perform(request, caller: caller, reply: reply) {
                if granted { self.writeBehind?.learned(node, $0, underGrant: true, ticket: known) }
                reply.attributes($0, timeout: self.attributeTimeout(ticket))
            }
        }
    }

    public func readlink(_ node: NodeID, caller: Caller, reply: ReadlinkReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.perform(ReadlinkRequest(handle: handle), caller: caller, reply: reply) { reply.target($0.target) }
    }

    public func mknod(parent: NodeID, name: FileName, mode: UInt32, rdev: UInt64, caller: Caller, reply: EntryReply) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        self.directoryAttributes?.changing(parent)
        self.replyEntry(
            MknodRequest(parent: parentHandle, name: name, mode: mode, rdev: rdev), parent: parent, name: name,
            caller: caller, reply: reply)
    }

    public func mkdir(parent: NodeID, name: FileName, mode: UInt32, caller: Caller, reply: EntryReply) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        self.directoryAttributes?.changing(parent)
        self.replyEntry(
            MkdirRequest(parent: parentHandle, name: name, mode: mode), parent: parent, name: name, caller: caller,
            reply: reply)
    }

    public func symlink(parent: NodeID, name: FileName, target: [UInt8], caller: Caller, reply: EntryReply) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        self.directoryAttributes?.changing(parent)
        self.replyEntry(
            SymlinkRequest(parent: parentHandle, name: name, target: target), parent: parent, name: name,
            caller: caller, reply: reply)
    }

    public func link(_ node: NodeID, newParent: NodeID, name: FileName, caller: Caller, reply: EntryReply) {
        guard let target = self.handle(node, reply), let parentHandle = self.handle(newParent, reply) else { return }
        self.directoryAttributes?.changing(newParent)
        // Its link count changes on the server.
        self.writeBehind?.changedOnServer(node)
        self.replyEntry(
            LinkRequest(target: target, newParent: parentHandle, name: name), parent: newParent, name: name,
            caller: caller, reply: reply)
    }

    public func unlink(parent: NodeID, name: FileName, caller: Caller, reply: EmptyReply) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        self.directoryAttributes?.changing(parent)
        if self.unlinkDelegated(parent: parent, name: name, caller: caller, reply: reply) { return }
        if self.delegationLog.isBusy {
            return self.afterDelegatedLog { self.unlink(parent: parent, name: name, caller: caller, reply: reply) }
        }
        self.perform(UnlinkRequest(parent: parentHandle, name: name), caller: caller, reply: reply) { _ in
            self.delegations?.removedAsked(name, in: parent)
            self.writeBehind?.changedOnServerUnnamed()
            reply.ok()
        }
    }

    public func rmdir(parent: NodeID, name: FileName, caller: Caller, reply: EmptyReply) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        self.directoryAttributes?.changing(parent)
        if self.delegationLog.isBusy {
            return self.afterDelegatedLog { self.rmdir(parent: parent, name: name, caller: caller, reply: reply) }
        }
        self.perform(RmdirRequest(parent: parentHandle, name: name), caller: caller, reply: reply) { _ in
            self.delegations?.removedAsked(name, in: parent)
            reply.ok()
        }
    }

    public func rename(
        parent: NodeID, name: FileName, newParent: NodeID, newName: FileName, flags: UInt32, caller: Caller,
        reply: EmptyReply
    ) {
        guard let oldHandle = self.handle(parent, reply), let newHandle = self.handle(newParent, reply) else { return }
        self.directoryAttributes?.renaming(
            from: .init(parent: parent, name: name), to: .init(parent: newParent, name: newName))
        let flags = RenameRequest.Flags(rawValue: flags)
        guard RenameRequest.Flags.known.isSuperset(of: flags) else { return reply.error(.invalid) }
        if self.delegationLog.isBusy {
            return self.afterDelegatedLog {
                self.rename(
                    parent: parent, name: name, newParent: newParent, newName: newName, flags: flags.rawValue,
                    caller: caller, reply: reply)
            }
        }
        // Both names are the server's to answer from now on.
        self.delegations?.asking(newName, in: newParent)
        self.delegations?.asking(name, in: parent)
        self.leases?.adding(newName, in: newParent)
        // An exchange moves the other name back: both are made.
        self.leases?.adding(name, in: parent)
        let request = RenameRequest(
            oldParent: oldHandle, oldName: name, newParent: newHandle, newName: newName, flags: flags)
        self.perform(request, caller: caller, reply: reply) { _ in
            // The file renamed over lost a link, the moved one's change time is the server's.
            self.writeBehind?.changedOnServerUnnamed()
            reply.ok()
        }
    }

    public func access(_ node: NodeID, mask: UInt32, caller: Caller, reply: EmptyReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.replyEmpty(AccessRequest(handle: handle, mask: mask), caller: caller, reply: reply)
    }

    public func statfs(_ node: NodeID, caller: Caller, reply: StatfsReply) {
        guard let handle = self.handle(node, reply) else { return }
        self.perform(StatfsRequest(handle: handle), caller: caller, reply: reply) { reply.statistics($0) }
    }
}

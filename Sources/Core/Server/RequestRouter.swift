import NIOCore

/// What a route needs besides the request itself.
public struct RequestContext<Store: BackingStore>: Sendable {
    public var caller: Caller
    public var session: ClientSession<Store>
    public var transaction: TransactionID
    public var allocator: ByteBufferAllocator
    /// Sends a frame on the request's connection, from any thread: for replies sent later than
    /// the route returns (a blocked SETLK answered when granted, a write acknowledged once other
    /// clients have dropped their cached pages).
    public var respond: @Sendable (ByteBuffer) -> Void
    /// The connection's event loop, for timers.
    public var eventLoop: any EventLoop
    /// Runs blocking work of a request begun on the event loop on the server's I/O pool (bounded
    /// by `--io-threads`, like the requests the pool runs from the start).
    public var offload: @Sendable (@escaping @Sendable () -> Void) -> Void
}

/// Maps each request opcode to the code that performs it against the store and encodes the
/// reply. Built once per server from the request types themselves, so the opcode, the decoder
/// and the reply type cannot disagree.
///
/// A route runs on a thread-pool thread and returns the reply frame, or nil when it has taken
/// charge of replying later through `RequestContext.respond`. It throws `WireError` when the
/// payload is malformed (the connection is then closed) and `Errno` when the operation fails
/// (answered as an error reply); anything else is answered EIO.
public struct RequestRouter<Store: BackingStore>: Sendable {
    public typealias Route = @Sendable (_ payload: ByteBuffer, _ context: RequestContext<Store>) throws -> ByteBuffer?

    var routes: [Opcode: Route] = [:]
    let store: Store
    let locks: LockService
    let coherence: CacheCoherence
    let maximumTransaction: UInt32
    let policy: ExportPolicy

    public init(
        store: Store, locks: LockService, coherence: CacheCoherence, maximumTransaction: UInt32,
        policy: ExportPolicy = ExportPolicy()
    ) {
        self.store = store
        self.policy = policy
        self.locks = locks
        self.coherence = coherence
        self.maximumTransaction = maximumTransaction
        self.registerNamespace()
        self.registerData()
        self.registerAppend()
        self.registerDirectories()
        self.registerXattrs()
        self.registerLocks()
        self.registerResilience()
        self.registerGrants()
        self.registerDelegation()
        self.applyRecalls()
        self.applyLookupRecalls()
        self.applyDelegationRecalls()
        self.applyPolicy()
    }

    /// Puts the export policy in front of every route: the caller is squashed, and a change to
    /// a read-only export is refused with EROFS, before the route decodes or performs anything.
    private mutating func applyPolicy() {
        let policy = self.policy
        guard policy != ExportPolicy() else { return }
        for (opcode, route) in self.routes {
            self.routes[opcode] = { payload, context in
                var context = context
                context.caller = policy.squashed(context.caller)
                if policy.readOnly {
                    try policy.checkChange(
                        opcode, openFlags: opcode == .open ? try OpenRequest.decode(payload: payload).flags : nil)
                }
                return try route(payload, context)
            }
        }
    }

    public func route(for opcode: Opcode) -> Route? { self.routes[opcode] }

    /// Registers the usual shape: decode, perform, encode the typed reply.
    mutating func on<R: WireRequest>(
        _ type: R.Type, _ perform: @escaping @Sendable (R, RequestContext<Store>) throws -> R.Response
    ) {
        precondition(self.routes[R.opcode] == nil, "\(R.opcode) registered twice")
        self.routes[R.opcode] = { payload, context in
            let request = try R.decode(payload: payload)
            let response = try perform(request, context)
            return FrameEncoding.reply(
                response, opcode: R.opcode, transaction: context.transaction, allocator: context.allocator)
        }
    }

    /// Registers a route whose reply acknowledges a change to a file: the reply goes out only once
    /// every other client caching the file has dropped the changed range (`CacheCoherence`).
    /// `perform` returns the reply and what changed: the file and the byte range (offset
    /// `InvalidateNotice.attributesOnly` for metadata only).
    mutating func onChange<R: WireRequest>(
        _ type: R.Type,
        _ perform: @escaping @Sendable (R, RequestContext<Store>) throws -> (R.Response, ObjectHandle, UInt64, UInt64)
    ) {
        let coherence = self.coherence
        self.onRaw(R.opcode) { payload, context in
            let request = try R.decode(payload: payload)
            let (response, file, offset, length) = try perform(request, context)
            let reply = FrameEncoding.reply(
                response, opcode: R.opcode, transaction: context.transaction, allocator: context.allocator)
            guard offset != CacheCoherence.nothingChanged else { return reply }
            let respond = context.respond
            let deferred = coherence.invalidate(
                file, offset: offset, length: length, by: context.session.id, timerLoop: context.eventLoop
            ) { respond(reply) }
            return deferred ? nil : reply
        }
    }

    /// Registers a route that builds its own reply frame (READ, to read straight into it).
    mutating func onRaw(_ opcode: Opcode, _ route: @escaping Route) {
        precondition(self.routes[opcode] == nil, "\(opcode) registered twice")
        self.routes[opcode] = route
    }

    private mutating func registerNamespace() {
        let store = self.store
        let coherence = self.coherence
        // Routes that describe names and objects grant leases on them, routes that change them
        // break the others' leases first (`RequestRouter+Leases`).
        self.on(LookupRequest.self) { request, context in
            try Self.leasing(coherence, context, directories: [request.parent]) {
                try store.lookup(request, caller: context.caller)
            } objects: { [$0.handle] }
        }
        self.on(GetattrRequest.self) { request, context in
            try Self.leasing(coherence, context, directories: []) {
                try store.getattr(request, caller: context.caller)
            } objects: { _ in [request.handle] }
        }
        self.onChange(SetattrRequest.self) { request, context in
            let file = try request.file.map { try context.session.file($0) }
            let attributes = try Self.leasing(coherence, context, directories: []) {
                try store.setattr(request, file: file, caller: context.caller)
            } objects: { _ in [request.handle] }
            // A new size changes pages from there on; anything else changes attributes only.
            return (attributes, request.handle, request.size ?? InvalidateNotice.attributesOnly, 0)
        }
        self.on(ReadlinkRequest.self) { try store.readlink($0, caller: $1.caller) }
        self.onLeaseChange(SymlinkRequest.self) { request, context in
            let entry = try Self.leasing(coherence, context, directories: [request.parent]) {
                try store.symlink(request, caller: context.caller)
            } objects: { [$0.handle] }
            return (entry, [LeasedName(directory: request.parent, name: request.name)], [request.parent])
        }
        self.onLeaseChange(MknodRequest.self) { request, context in
            let entry = try Self.leasing(coherence, context, directories: [request.parent]) {
                try store.mknod(request, caller: context.caller)
            } objects: { [$0.handle] }
            return (entry, [LeasedName(directory: request.parent, name: request.name)], [request.parent])
        }
        self.onLeaseChange(MkdirRequest.self) { request, context in
            let since = coherence.leaseSequence()
            let entry = try store.mkdir(request, caller: context.caller)
            // Born delegated to a delegating maker (ConsistencyContract "Delegated directories").
            coherence.delegations.born(entry.handle, to: context.session.id)
            // The new directory's names too: its maker knows it empty (`LeaseState.bornEmpty`).
            coherence.grantLeases(
                directories: [request.parent, entry.handle], objects: [entry.handle], to: context.session.id,
                since: since)
            return (entry, [LeasedName(directory: request.parent, name: request.name)], [request.parent])
        }
        self.onLeaseChange(UnlinkRequest.self) { request, context in
            let victim = Self.leasedObject(store, coherence, context, parent: request.parent, name: request.name)
            try store.unlink(request, caller: context.caller)
            coherence.forget(store.takeRemovedObjects())
            let name = LeasedName(directory: request.parent, name: request.name)
            return (EmptyResponse(), [name], [request.parent] + (victim.map { [$0] } ?? []))
        }
        self.onLeaseChange(RmdirRequest.self) { request, context in
            try store.rmdir(request, caller: context.caller)
            coherence.forget(store.takeRemovedObjects())
            return (EmptyResponse(), [LeasedName(directory: request.parent, name: request.name)], [request.parent])
        }
        self.onLeaseChange(RenameRequest.self) { request, context in
            let moved = Self.leasedObject(store, coherence, context, parent: request.oldParent, name: request.oldName)
            let victim = Self.leasedObject(store, coherence, context, parent: request.newParent, name: request.newName)
            try store.rename(request, caller: context.caller)
            coherence.forget(store.takeRemovedObjects())
            let names = [
                LeasedName(directory: request.oldParent, name: request.oldName),
                LeasedName(directory: request.newParent, name: request.newName),
            ]
            return (EmptyResponse(), names, [request.oldParent, request.newParent] + [moved, victim].compactMap { $0 })
        }
        self.onLeaseChange(LinkRequest.self) { request, context in
            let entry = try Self.leasing(coherence, context, directories: [request.newParent]) {
                try store.link(request, caller: context.caller)
            } objects: { [$0.handle] }
            return (entry, [LeasedName(directory: request.newParent, name: request.name)], [request.newParent, request.target])
        }
        self.on(AccessRequest.self) { try store.access($0, caller: $1.caller); return EmptyResponse() }
        self.on(StatfsRequest.self) { try store.statfs($0, caller: $1.caller) }
    }

    private mutating func registerData() {
        let store = self.store
        let locks = self.locks
        let coherence = self.coherence
        let maximumTransaction = self.maximumTransaction
        self.registerOpen()
        self.onLeaseChange(CreateRequest.self) { request, context in
            var opening = request
            opening.flags &= ~CreateRequest.wantsGrant
            let (entry, file) = try Self.leasing(coherence, context, directories: [request.parent]) {
                try store.create(opening, caller: context.caller)
            } objects: { [$0.0.handle] }
            _ = coherence.opened(entry.handle, by: context.session.id, caching: request.caching)
            coherence.fileOpened(entry.handle, by: context.session.id)
            var response = CreateResponse(entry: entry, file: context.session.register(.file(file)))
            if request.flags & CreateRequest.wantsGrant != 0 {
                response.granted = coherence.grantAtCreate(entry.handle, to: context.session.id)
            }
            return (response, [LeasedName(directory: request.parent, name: request.name)], [request.parent])
        }
        self.onRaw(.read) { payload, context in
            let request = try ReadRequest.decode(payload: payload)
            guard request.size <= maximumTransaction else { throw Errno.invalid }
            let file = try context.session.file(request.file)
            let header = MessageHeader(flags: .reply, opcode: .read, transaction: context.transaction)
            return try locks.withTransactionLock(
                file: store.objectHandle(of: file), session: context.session.id, transaction: context.transaction,
                mode: .shared, offset: request.offset, length: Int(request.size)
            ) {
                try FrameEncoding.frame(header: header, allocator: context.allocator, capacity: Int(request.size) + 4) {
                    buffer in
                    let lengthIndex = buffer.writerIndex
                    buffer.writeWire(UInt32(0))
                    try store.read(file, offset: request.offset, size: Int(request.size), into: &buffer)
                    buffer.setInteger(
                        UInt32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex, endianness: .little)
                }
            }
        }
        self.onChange(WriteRequest.self) { request, context in
            guard request.data.readableBytes <= maximumTransaction else { throw Errno.invalid }
            let file = try context.session.file(request.file)
            let handle = store.objectHandle(of: file)
            let count = try locks.withTransactionLock(
                file: handle, session: context.session.id, transaction: context.transaction,
                mode: .exclusive, offset: request.offset, length: request.data.readableBytes
            ) {
                try store.write(file, offset: request.offset, data: request.data, caller: context.caller)
            }
            // After the bytes, outside the lock: the attributes of a file this session alone
            // writes (under its grant) are as the write left them or later.
            let attributes =
                context.session.wantsWriteAttributes.load(ordering: .relaxed) ? try? store.attributes(of: file) : nil
            // O_APPEND writes land at the end, wherever `offset` said: invalidate to the end.
            return (WriteResponse(count: count, attributes: attributes), handle, request.offset, 0)
        }
        self.on(FlushRequest.self) { request, context in
            let file = try context.session.file(request.file)
            locks.closed(file: store.objectHandle(of: file), owner: request.owner, session: context.session.id)
            StoreLockGate.closed(store, file: file, owner: request.owner, session: context.session.id)
            return EmptyResponse()
        }
        self.on(ReleaseRequest.self) { request, context in
            let file = try context.session.file(request.file)
            locks.released(
                file: store.objectHandle(of: file), handle: request.file, flockOwner: request.flockOwner,
                session: context.session.id)
            try context.session.release(request.file)
            coherence.fileReleased(store.objectHandle(of: file), by: context.session.id)
            coherence.forget(store.takeRemovedObjects())
            return EmptyResponse()
        }
        self.on(FsyncRequest.self) { request, context in
            try store.fsync(try context.session.file(request.file), dataOnly: request.dataOnly)
            return EmptyResponse()
        }
        self.onChange(FallocateRequest.self) { request, context in
            let file = try context.session.file(request.file)
            try store.fallocate(
                file, mode: request.mode, offset: request.offset, length: request.length, caller: context.caller)
            return (EmptyResponse(), store.objectHandle(of: file), request.offset, request.length)
        }
        self.onChange(CopyFileRangeRequest.self) { request, context in
            let source = try context.session.file(request.source)
            let destination = try context.session.file(request.destination)
            let count = try store.copyFileRange(
                from: source, at: request.sourceOffset, to: destination, at: request.destinationOffset,
                length: request.length, caller: context.caller)
            return (WriteResponse(count: count), store.objectHandle(of: destination), request.destinationOffset, count)
        }
        self.on(InvalidateDoneRequest.self) { request, context in
            coherence.acknowledged(request.notice, by: context.session.id)
            return EmptyResponse()
        }
    }

    private mutating func registerDirectories() {
        let store = self.store
        let coherence = self.coherence
        /// Opens `request`'s directory for the session, its listing leased with the names (the
        /// client may let the kernel cache it): the directory and the session's handle for it.
        @Sendable func open(
            _ request: OpendirRequest, _ context: RequestContext<Store>
        ) throws -> (Store.Directory, FileHandleID) {
            let directory = try Self.leasing(coherence, context, directories: [request.handle]) {
                try store.opendir(request, caller: context.caller)
            } objects: { _ in [request.handle] }
            return (directory, context.session.register(.directory(directory)))
        }
        self.on(OpendirRequest.self) { request, context in OpenResponse(file: try open(request, context).1) }
        @Sendable func list(
            _ directory: Store.Directory, cookie: UInt64, maximumEntries: UInt32, plus: Bool,
            _ context: RequestContext<Store>
        ) throws -> ReaddirResponse {
            guard maximumEntries > 0, maximumEntries <= ReaddirRequest.maximumBatch else { throw Errno.invalid }
            var reply = try Self.leasingListing(coherence, context, store, directory, plus: plus) {
                try store.readdir(
                    directory, cookie: cookie, maximumEntries: Int(maximumEntries), plus: plus, caller: context.caller)
            }
            // A full batch of long names with attributes can outgrow what a client accepts in
            // one frame (its transaction size, at least 1 MiB, plus 64 KiB): send a shorter batch.
            reply.truncate(toEncodedSize: Int(ProtocolVersion.minimumTransactionSize))
            return reply
        }
        self.on(ReaddirRequest.self) { request, context in
            let directory = try context.session.directory(request.directory)
            return try list(
                directory, cookie: request.cookie, maximumEntries: request.maximumEntries, plus: request.plus, context)
        }
        // OPENDIR then READDIR from the start, in one round trip; a failed listing leaves
        // nothing open.
        self.on(OpendirListRequest.self) { request, context in
            guard request.maximumEntries > 0, request.maximumEntries <= ReaddirRequest.maximumBatch else {
                throw Errno.invalid
            }
            let (directory, file) = try open(OpendirRequest(handle: request.handle), context)
            do {
                let listing = try list(
                    directory, cookie: 0, maximumEntries: request.maximumEntries, plus: request.plus, context)
                return OpendirListResponse(file: file, listing: listing)
            } catch {
                try? context.session.release(file)
                throw error
            }
        }
        self.on(ReleasedirRequest.self) { request, context in
            _ = try context.session.directory(request.directory)
            try context.session.release(request.directory)
            return EmptyResponse()
        }
    }

    private mutating func registerLocks() {
        let store = self.store
        let locks = self.locks
        self.on(GetlkRequest.self) { request, context in
            let file = try context.session.file(request.file)
            return try locks.getlk(request, file: store.objectHandle(of: file), session: context.session.id)
        }
        self.onRaw(.setlk) { payload, context in
            let request = try SetlkRequest.decode(payload: payload)
            let file = try context.session.file(request.file)
            let session = context.session.id
            func local() throws -> ByteBuffer? {
                try locks.setlk(
                    request, file: store.objectHandle(of: file), session: session,
                    transaction: context.transaction, allocator: context.allocator, respond: context.respond)
            }
            // Other servers share the store: its copy of the lock is taken first (StoreLockGate).
            guard store.sharesLocks else { return try local() }
            let clientSession = context.session
            return try StoreLockGate.setlk(
                store, file: file, request: request, session: session,
                stillWanted: { clientSession.connection.withLock { $0 != nil } && (try? clientSession.file(request.file)) != nil },
                local: local)
        }
        self.on(CancelRequest.self) { request, context in
            locks.cancel(request.transaction, session: context.session.id)
            return EmptyResponse()
        }
        self.on(LockTableRequest.self) { request, _ in
            locks.table(pathPrefix: request.pathPrefix) { store.displayPath(of: $0) }
        }
    }

    private mutating func registerXattrs() {
        let store = self.store
        let policy = self.policy
        // `trusted.` and `security.` are for an unsquashed root only (ExportPolicy).
        // Extended attributes are part of an object's attribute lease (the client answers the
        // kernel's security.capability checks from it).
        self.onLeaseChange(SetxattrRequest.self) {
            try policy.checkXattrName($0.name, caller: $1.caller)
            try store.setxattr($0, caller: $1.caller)
            return (EmptyResponse(), [], [$0.handle])
        }
        let coherence = self.coherence
        self.on(GetxattrRequest.self) { request, context in
            // Under a lease on the object's attributes, found or absent (capability
            // `xattrLeases`: the client keeps an absence, and a SETXATTR anywhere breaks it).
            let since = coherence.leaseSequence()
            let lease = { coherence.grantLeases(directories: [], objects: [request.handle], to: context.session.id, since: since) }
            do {
                // Reading answers "no such attribute" rather than EPERM: it reveals nothing, and
                // the kernel's exec path (security.capability) treats ENODATA as "no capabilities"
                // but any other error as a failed exec.
                guard policy.mayUseXattr(request.name, caller: context.caller) else { throw Errno.noData }
                let response = try store.getxattr(request, caller: context.caller)
                lease()
                return response
            } catch let error as Errno where error == .noData {
                lease()
                throw error
            }
        }
        self.on(ListxattrRequest.self) { request, context in
            guard !policy.mayUseXattr(ExportPolicy.privilegedXattrPrefixes[0], caller: context.caller) else {
                return try store.listxattr(request, caller: context.caller)
            }
            // Hide the privileged namespaces: fetch the whole list, filter, then answer the
            // size query or the sized request from the filtered list.
            let full = try store.listxattr(
                ListxattrRequest(handle: request.handle, size: UInt32(ByteBuffer.wireMaximumBlob)),
                caller: context.caller)
            let names = ExportPolicy.filterXattrList(full.value) { policy.mayUseXattr($0, caller: context.caller) }
            if request.size == 0 { return XattrResponse(size: UInt32(names.count), value: []) }
            guard names.count <= Int(request.size) else { throw Errno.range }
            return XattrResponse(size: UInt32(names.count), value: names)
        }
        self.onLeaseChange(RemovexattrRequest.self) {
            try policy.checkXattrName($0.name, caller: $1.caller)
            try store.removexattr($0, caller: $1.caller)
            return (EmptyResponse(), [], [$0.handle])
        }
    }
}

import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Open files: open, create, read, write, flush, release, fsync, fallocate, copy_file_range.
extension FileSystemOperations {
    public func open(_ node: NodeID, flags: UInt32, caller: Caller, reply: OpenReply) {
        guard let handle = self.handle(node, reply) else { return }
        // The kernel's retry after an ESTALE, right after it looked the name up again: the object
        // it found is the one to open even if another client has renamed over it since.
        let resolved = self.recentLookups.opening(node, by: caller.pid) ? OpenRequest.resolvedJustNow : 0
        let request = OpenRequest(handle: handle, flags: flags | resolved, caching: self.tracksPages(flags: flags))
        // After the node's metadata answered locally is applied (`WriteBehind`).
        self.afterWriteback(of: node) { self.sendOpen(request, node: node, flags: flags, caller: caller, reply: reply) }
    }

    private func sendOpen(_ request: OpenRequest, node: NodeID, flags: UInt32, caller: Caller, reply: OpenReply) {
        var request = request
        // The file's first bytes with the open, for a read the kernel caches (not O_WRONLY,
        // O_TRUNC or O_DIRECT), when nothing this client changed is still on its way, at the
        // node's first open since the kernel learned it (`FirstReads`).
        let moment = self.client.dataChanges.now()
        let reconnects = self.client.reconnects
        if moment != nil, self.client.hello.capabilities.contains(.firstRead), self.caches(flags: flags),
            flags & 0o3 != 0o1, flags & OpenRequest.truncating == 0, self.firstReads.isFirstOpen(node)
        {
            request.flags |= OpenRequest.wantsFirstRead
        }
        self.client.send(request, caller: caller) { result in
            switch result {
            case .success(let response):
                // The server truncated the file.
                if flags & OpenRequest.truncating != 0 { self.writeBehind?.changedOnServer(node) }
                self.registerOpen(response.file, node: node, flags: flags)
                if case .bytes(let bytes) = response.firstRead, let moment {
                    self.firstReads.keep(
                        FirstReads.FirstRead(bytes: bytes, moment: moment, reconnects: reconnects), for: response.file)
                }
                reply.opened(self.openParameters(response.file, flags: flags, cacheValid: response.cacheValid))
            case .failure(let error):
                if let errno = error as? Errno, errno == .stale { self.recentLookups.openWasStale(by: caller.pid) }
                reply.fail(error)
            }
        }
    }

    public func create(
        parent: NodeID, name: FileName, mode: UInt32, flags: UInt32, caller: Caller, reply: CreateReply
    ) {
        guard let parentHandle = self.handle(parent, reply) else { return }
        self.directoryAttributes?.changing(parent)
        if self.createDelegated(parent: parent, name: name, mode: mode, flags: flags, caller: caller, reply: reply) {
            return
        }
        if self.delegationLog.isBusy {
            return self.afterDelegatedLog {
                self.create(parent: parent, name: name, mode: mode, flags: flags, caller: caller, reply: reply)
            }
        }
        self.delegations?.asking(name, in: parent)
        let wantsGrant = self.wantsGrantAtCreate(flags: flags) ? CreateRequest.wantsGrant : 0
        let request = CreateRequest(
            parent: parentHandle, name: name, mode: mode, flags: flags | wantsGrant,
            caching: self.tracksPages(flags: flags))
        self.leases?.adding(name, in: parent)
        let ticket = self.leases?.ticket()
        self.perform(request, caller: caller, reply: reply) { response in
            let entry = self.entryParameters(response.entry, leased: ticket.map { ($0, parent, name) })
            self.writeBehind?.learned(entry.node, response.entry.attributes, underGrant: false)
            // A file just created has no capabilities: the kernel's check before each write
            // is answered here (`getxattr`). Only with O_EXCL is it sure to be new: without, the
            // server opens a file another client made since the kernel's lookup, which may have
            // them (the kernel would then not clear them at the next write).
            if let ticket, flags & UInt32(O_EXCL) != 0 { self.leases?.noteNoCapability(entry.node, ticket: ticket) }
            self.registerOpen(response.file, node: entry.node, flags: flags, granted: response.granted ?? false)
            reply.created(entry, self.openParameters(response.file, flags: flags, cacheValid: true))
        }
    }

    /// Answers with the reply's payload slices: no copy between the socket's buffers and the kernel.
    /// Bytes written here and still buffered are answered from the buffer, or written back first.
    public func read(file: FileHandleID, offset: UInt64, size: Int, caller: Caller, reply: DataReply) {
        let size = min(size, Int(self.client.hello.maximumTransaction))
        let node = self.openFiles[file]?.node
        if let node, let bytes = self.writeback?.cachedBytes(node, offset: offset, size: size) {
            return reply.data(ByteBuffer(bytes: bytes))
        }
        if offset == 0, let node, let first = self.firstReads.take(file), self.isCurrent(first, of: node),
            let bytes = first.answer(size)
        {
            return reply.data(bytes)
        }
        // Any dirty byte, not only those in the range: buffered writes past the server's end of
        // file would make its reply short, and the kernel takes a short read for the file's end.
        self.afterWriteback(of: node) {
            self.perform(ReadRequest(file: file, offset: offset, size: UInt32(size)), caller: caller, reply: reply) {
                reply.data($0.slices)
            }
        }
    }

    /// Whether nothing can have changed the bytes `first` holds since its OPEN was sent: no
    /// change sent or heard since (the OPEN itself is none: it did not truncate), no reconnect,
    /// and no byte or metadata of the node waits here to be sent.
    private func isCurrent(_ first: FirstReads.FirstRead, of node: NodeID) -> Bool {
        self.client.dataChanges.unchanged(since: first.moment)
            && self.client.reconnects == first.reconnects
            && !(self.writeBehind?.isPending(node) ?? false)
            && !(self.writeback?.hasDirtyPages(of: node) ?? false)
    }

    /// `bytes` is the kernel's buffer, valid only during this call: it is copied once, into the
    /// request frame, before this returns.
    public func write(file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, caller: Caller, reply: WriteReply) {
        guard bytes.count <= Int(self.client.hello.maximumTransaction) else { return reply.error(.invalid) }
        if let open = self.openFiles[file], self.appendsAtomically(flags: open.flags) {
            return self.append(file: file, node: open.node, bytes: bytes, caller: caller, reply: reply)
        }
        let node = self.openFiles[file]?.node
        let buffered = self.bufferWrite(file: file, offset: offset, bytes: bytes, caller: caller, reply: reply) { data in
            self.perform(WriteRequest(file: file, offset: offset, data: data), caller: caller, reply: reply) {
                self.writeBehind?.changedOnServer(node)
                reply.written($0.count)
            }
        }
        guard !buffered else { return }
        self.client.send(
            WriteRequest.self, caller: caller, sizeHint: bytes.count + 32,
            encode: { WriteRequest.encode(file: file, offset: offset, bytes: bytes, into: &$0) }
        ) { result in
            switch result {
            case .success(let response):
                self.writeBehind?.changedOnServer(node)
                reply.written(response.count)
            case .failure(let error): reply.fail(error)
            }
        }
    }

    /// Buffered bytes go to the server first; a write-back error is this close's error. An
    /// owner that never asked for a lock on the file holds none: the server has nothing to drop,
    /// and the close is answered here (`LockingOwners`).
    public func flush(file: FileHandleID, owner: LockOwner, caller: Caller, reply: EmptyReply) {
        let node = self.openFiles[file]?.node
        if let node, let delegations = self.delegations, delegations.isCreatedHere(node) {
            // close reports a failed create when it is known already.
            if let error = delegations.knownFileError(file, node: node) { return reply.error(error) }
        }
        let local = node.map { !self.lockingOwners.mayHold(owner, on: $0) } ?? false
        if local, let node, self.flushDelegated(file: file, node: node, reply: reply) { return }
        if local, let node, self.flushBehind(file: file, node: node, reply: reply) { return }
        self.writeBackReportingErrors(file) { writebackError in
            if local { return writebackError.map { reply.error($0) } ?? reply.ok() }
            self.perform(FlushRequest(file: file, owner: owner), caller: caller, reply: reply) { _ in
                if let writebackError { reply.error(writebackError) } else { reply.ok() }
            }
        }
    }

    /// The last close of an open file; `flockOwner` is set when the kernel asks for that
    /// owner's flock locks to be dropped with it.
    public func release(file: FileHandleID, flockOwner: LockOwner?, caller: Caller, reply: EmptyReply) {
        let node = self.openFiles[file]?.node
        _ = self.firstReads.take(file)
        if flockOwner == nil, let node, let writeBehind = self.writeBehind,
            writeBehind.release(node, file: file, caller: caller)
        {
            self.openFiles.released(file)
            return reply.ok()
        }
        self.writeBehind?.closed(file)
        self.afterWriteback(of: node) {
            if let node { self.writeback?.released(file, node: node) }
            self.openFiles.released(file)
            let request = ReleaseRequest(file: file, flockOwner: flockOwner)
            // Dropping flock locks is waited for; otherwise nothing observable depends on the
            // answer (ConsistencyContract "Closing files without waiting").
            guard flockOwner == nil else { return self.replyEmpty(request, caller: caller, reply: reply) }
            reply.ok()
            self.client.send(request, caller: caller) { _ in }
        }
    }

    /// Buffered bytes go to the server first; a write-back error is fsync's error.
    public func fsync(file: FileHandleID, dataOnly: Bool, caller: Caller, reply: EmptyReply) {
        self.afterDelegatedCreateReporting(file, node: self.openFiles[file]?.node) { createError in
            if let createError { return reply.error(createError) }
            self.fsyncOnServer(file: file, dataOnly: dataOnly, caller: caller, reply: reply)
        }
    }

    private func fsyncOnServer(file: FileHandleID, dataOnly: Bool, caller: Caller, reply: EmptyReply) {
        self.writeBackReportingErrors(file) { writebackError in
            if let writebackError { return reply.error(writebackError) }
            self.replyEmpty(FsyncRequest(file: file, dataOnly: dataOnly), caller: caller, reply: reply)
        }
    }

    public func fallocate(
        file: FileHandleID, mode: UInt32, offset: UInt64, length: UInt64, caller: Caller, reply: EmptyReply
    ) {
        let node = self.openFiles[file]?.node
        self.afterWriteback(of: node) {
            let request = FallocateRequest(file: file, mode: mode, offset: offset, length: length)
            self.perform(request, caller: caller, reply: reply) { _ in
                self.writeBehind?.changedOnServer(node)
                reply.ok()
            }
        }
    }

    public func copyFileRange(
        from source: FileHandleID, at sourceOffset: UInt64, to destination: FileHandleID, at destinationOffset: UInt64,
        length: UInt64, caller: Caller, reply: WriteReply
    ) {
        let request = CopyFileRangeRequest(
            source: source, sourceOffset: sourceOffset, destination: destination,
            destinationOffset: destinationOffset, length: length)
        self.afterWriteback(of: self.openFiles[source]?.node) {
            self.afterWriteback(of: self.openFiles[destination]?.node) {
                self.perform(request, caller: caller, reply: reply) {
                    self.writeBehind?.changedOnServer(self.openFiles[destination]?.node)
                    reply.written($0.count)
                }
            }
        }
    }
}

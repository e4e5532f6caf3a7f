import NIOCore

/// Delegated directories on the FUSE side (ConsistencyContract "Delegated directories"): LOOKUP,
/// CREATE and UNLINK answered locally in a directory this client holds, the log they go to the
/// server in, the wait for it in front of synchronous operations, fsync's and close's report of
/// what failed, and the recall.
extension FileSystemOperations {
    // MARK: - Answered locally

    /// LOOKUP in a held directory: true when answered here, or sent to the server once the log
    /// is applied (a name this client made there through the server, a recalled directory).
    func lookupDelegated(
        parent: NodeID, parentHandle: ObjectHandle, name: FileName, caller: Caller, reply: EntryReply
    ) -> Bool {
        guard let delegations = self.delegations else { return false }
        switch delegations.lookup(name, in: parent, caller: caller) {
        case .notHeld:
            return false
        case .ask:
            self.afterDelegatedLog {
                self.lookupOnServer(parent: parent, parentHandle: parentHandle, name: name, caller: caller, reply: reply)
            }
            return true
        case .absent:
            delegations.answeredLocally.add(1, ordering: .relaxed)
            let timeout = self.options.negativeTimeout
            if timeout > 0 {
                reply.entry(EntryParameters(node: NodeID(0), attributes: nil, attributeTimeout: 0, entryTimeout: timeout))
            } else {
                reply.error(.noEntry)
            }
            return true
        case .created(let created):
            guard let attributes = self.writeBehind?.localAttributes(created.node) else {
                // The server's attributes, once it has the name.
                self.afterDelegatedCreate(of: created.node) {
                    self.lookupOnServer(parent: parent, parentHandle: parentHandle, name: name, caller: caller, reply: reply)
                }
                return true
            }
            delegations.answeredLocally.add(1, ordering: .relaxed)
            let node = self.inodes.remember(created.handle)
            reply.entry(
                EntryParameters(
                    node: node, attributes: attributes, attributeTimeout: self.options.attributeTimeout,
                    entryTimeout: self.options.entryTimeout))
            return true
        }
    }

    /// CREATE in a held directory from the pool: true when answered here.
    func createDelegated(
        parent: NodeID, name: FileName, mode: UInt32, flags: UInt32, caller: Caller, reply: CreateReply
    ) -> Bool {
        guard let delegations = self.delegations, let writeBehind = self.writeBehind,
            mode & 0o170000 == 0o100000, Int32(bitPattern: flags) & (0o2000 | 0o40000) == 0,  // no O_APPEND, O_DIRECT
            self.wantsGrantAtCreate(flags: flags)
        else { return false }
        defer { self.refillPool() }
        guard let (staged, directory) = delegations.takeStaged(for: name, in: parent, caller: caller) else { return false }
        var attributes = staged.entry.attributes
        attributes.mode = mode & 0o177777
        attributes.uid = caller.uid
        attributes.gid = directory.mode & 0o2000 != 0 ? directory.gid : caller.gid
        let node = self.inodes.remember(staged.entry.handle)
        let client = self.client
        // Leased as a CREATE's reply would be: the server grants the lease when it applies the
        // create; nobody else can see the name before then (the recall waits for the log).
        let ticket = self.leases?.ticket()
        let timeouts = self.timeouts(ticket.map { ($0, parent, name) })
        self.delegationLog.append { seq in
            // Known as created before the entry can be sent (and answered).
            delegations.createdLocally(name, in: parent, node: node, handle: staged.entry.handle, seq: seq)
            let request = DelegatedCreateRequest(
                seq: seq, parent: directory.handle, name: name, staged: staged.entry.handle, mode: mode)
            return { answered in
                client.send(request, caller: caller) { result in
                    switch result {
                    case .success:
                        delegations.createAnswered(node, name: name, in: parent, error: nil)
                        self.forgetUnleasedCreate(node: node, name: name, in: parent, ticket: ticket)
                    case .failure(let error):
                        self.delegatedFailed(node: node, name: name, in: parent, error)
                    }
                    answered()
                }
            }
        }
        delegations.answeredLocally.add(1, ordering: .relaxed)
        self.leases?.adding(name, in: parent)
        if let leases = self.leases { leases.noteNoCapability(node, ticket: leases.ticket()) }
        self.registerOpen(staged.file, node: node, flags: flags, granted: true)
        writeBehind.learned(node, attributes, underGrant: true)
        reply.created(
            EntryParameters(
                node: node, attributes: attributes, attributeTimeout: timeouts.attribute, entryTimeout: timeouts.entry),
            self.openParameters(staged.file, flags: flags, cacheValid: true))
        return true
    }

    /// A create answered here with a lease's timeouts was applied, but a break (the server's
    /// refusal of the lease among them) arrived since it was answered: the kernel forgets the
    /// name and the file's attributes, as for a CREATE's reply that a break crossed.
    private func forgetUnleasedCreate(node: NodeID, name: FileName, in parent: NodeID, ticket: UInt64?) {
        guard let ticket, let leases = self.leases, !leases.holds(ticket),
            let notifier = self.notifier as? any EntryNotifier
        else { return }
        notifier.forget(KernelForgetting(entries: [(parent, name)], nodes: [node])) {}
    }

    /// UNLINK in a held directory of a file this client created there: true when answered here.
    func unlinkDelegated(parent: NodeID, name: FileName, caller: Caller, reply: EmptyReply) -> Bool {
        guard let delegations = self.delegations, let directory = delegations.held(parent),
            let created = delegations.takeCreated(name, in: parent, caller: caller)
        else { return false }
        let client = self.client
        self.delegationLog.append { seq in
            let request = DelegatedUnlinkRequest(seq: seq, parent: directory.handle, name: name, expected: created.handle)
            return { answered in
                client.send(request, caller: caller) { result in
                    if case .failure(let error) = result { delegations.failed(in: parent, (error as? Errno) ?? .io) }
                    answered()
                }
            }
        }
        delegations.answeredLocally.add(1, ordering: .relaxed)
        // Its link count is the server's again.
        self.writeBehind?.changedOnServer(created.node)
        reply.ok()
        return true
    }

    /// A create answered here failed on the server: reported at fsync and close, and the name
    /// is gone from the kernel.
    private func delegatedFailed(node: NodeID, name: FileName, in parent: NodeID, _ error: any Error) {
        let errno = (error as? Errno) ?? .io
        self.logger.warning(
            "a create answered locally failed on the server", metadata: ["name": "\(name)", LogKey.error: "\(errno)"])
        self.delegations?.createAnswered(node, name: name, in: parent, error: errno)
        guard let notifier = self.notifier as? any EntryNotifier else { return }
        notifier.forget(KernelForgetting(entries: [(parent, name)], nodes: [])) {}
    }

    /// Keeps the pool of staged objects filled, in the background.
    func refillPool() {
        guard let delegations = self.delegations, delegations.needsRefill() else { return }
        self.client.send(PreallocRequest(count: DelegatedDirectories.refillCount), caller: .root) { result in
            switch result {
            case .success(let response):
                delegations.refilled(response.objects)
            case .failure(let error):
                self.logger.debug("PREALLOC failed", metadata: [LogKey.error: "\(error)"])
                delegations.refilled([])
            }
        }
    }

    // MARK: - Order

    /// Runs `body` at once, or, while delegated operations are on their way, once they are all
    /// applied: every synchronous namespace operation of this client goes after them.
    func afterDelegatedLog(_ body: @escaping @Sendable () -> Void) {
        guard self.delegations != nil else { return body() }
        self.delegationLog.afterLog(body)
    }

    /// Runs `body` once `node`'s create, if it is still on its way, is applied (GETATTR and
    /// SETATTR of a file the server has not named yet).
    func afterDelegatedCreate(of node: NodeID, _ body: @escaping @Sendable () -> Void) {
        guard let seq = self.pendingCreate(node) else { return body() }
        self.delegationLog.after(seq, body)
    }

    /// The seq of `node`'s create while it is on its way, unanswered.
    func pendingCreate(_ node: NodeID) -> UInt64? {
        guard let seq = self.delegations?.pendingCreate(node), !self.delegationLog.isAnswered(seq) else { return nil }
        return seq
    }

    /// FLUSH of a file created here from the pool by an owner that holds no lock on it, under
    /// its grant: answered at once (close does not wait for the bytes). The write-back starts
    /// now; the log's later entries wait for it (a barrier), so the server never has a later create before these bytes. A write-back error
    /// stays with the file for its next fsync or close (`WritebackBuffer`).
    func flushDelegated(file: FileHandleID, node: NodeID, reply: EmptyReply) -> Bool {
        guard let delegations = self.delegations, delegations.isCreatedHere(node), let writeBehind = self.writeBehind,
            let writeback = self.writeback, writeBehind.mayAnswerFlush(node)
        else { return false }
        if let error = writeBehind.reportError(file) {
            reply.error(error)
            return true
        }
        // Only the bytes, not the node's queued metadata (a SETATTR of times and mode goes by
        // its chain, which writes the bytes back before it too): a write made while metadata was
        // queued is not buffered but sent, and answered once on the server, before this close.
        let written = Latch()
        writeback.writeBack(node, reportsErrors: false) { _ in written.open() }
        self.delegationLog.barrier { passed in written.wait(passed) }
        reply.ok()
        return true
    }

    // MARK: - Errors

    /// fsync of directory descriptor `file` of `node`: waits for the log, reports a failure of
    /// a delegated operation there once per descriptor.
    public func fsyncdir(_ node: NodeID, file: FileHandleID, caller: Caller, reply: EmptyReply) {
        self.afterDelegatedLog {
            if let error = self.delegations?.directoryError(file, node: node) { return reply.error(error) }
            reply.ok()
        }
    }

    /// The failure of `node`'s create that `file`'s fsync or close reports, after the create is
    /// answered.
    func afterDelegatedCreateReporting(
        _ file: FileHandleID, node: NodeID?, _ body: @escaping @Sendable (Errno?) -> Void
    ) {
        guard let node, let delegations = self.delegations else { return body(nil) }
        self.afterDelegatedCreate(of: node) { body(delegations.fileError(file, node: node)) }
    }

    // MARK: - Recall

    /// DELEG_RECALL: stop answering the directory here, wait for the log, give it back.
    func handleDelegationRecall(_ frame: Frame) {
        let notice: DelegationRecallNotice
        do {
            notice = try DelegationRecallNotice.decode(payload: frame.payload)
        } catch {
            self.logger.error("malformed DELEG_RECALL notice", metadata: [LogKey.error: "\(error)"])
            return
        }
        let client = self.client
        guard let delegations = self.delegations, let node = delegations.recall(notice.directory) else {
            let lastSeq = self.delegationLog.lastSeq
            client.send(DelegationReturnRequest(directory: notice.directory, lastSeq: lastSeq), caller: .root) { _ in }
            return
        }
        // The log, and the bytes of every file closed before now (the barriers).
        let lastSeq = self.delegationLog.lastSeq
        self.delegationLog.afterLog {
            client.send(DelegationReturnRequest(directory: notice.directory, lastSeq: lastSeq), caller: .root) { _ in
                delegations.returned(node)
            }
        }
    }
}

import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// POSIX, OFD and flock locks: GETLK, SETLK (blocking or not), CANCEL, and the releases that
/// come with FLUSH and RELEASE.
extension LockService {
    /// `F_GETLK`: the first conflicting lock of another owner, or `.unlock` when there is none.
    func getlk(_ request: GetlkRequest, file: ObjectHandle, session: SessionID) throws -> GetlkResponse {
        guard request.type != .unlock else { throw Errno.invalid }
        let lockRequest = LockRequest(
            file: file, owner: LockOwnerKey(session: session, owner: request.owner, pid: Int32(bitPattern: request.pid)),
            kind: .posix, mode: request.type == .write ? .exclusive : .shared,
            range: ByteRange(request.range.start, request.range.end))
        do {
            guard let conflict = try self.records.test(lockRequest) else {
                return GetlkResponse(type: .unlock, range: request.range, pid: 0)
            }
            return GetlkResponse(
                type: conflict.mode == .exclusive ? .write : .read,
                range: WireLockRange(start: conflict.range.start, end: conflict.range.end),
                pid: UInt32(bitPattern: conflict.owner.pid ?? 0))
        } catch {
            throw error.errno
        }
    }

    /// `F_SETLK`, `F_SETLKW`, `flock`. Returns the reply frame, or nil when the request waits: its
    /// reply is sent through `respond` once it is granted, refused or cancelled.
    func setlk(
        _ request: SetlkRequest, file: ObjectHandle, session: SessionID, transaction: TransactionID,
        allocator: ByteBufferAllocator, respond: @escaping @Sendable (ByteBuffer) -> Void
    ) throws -> ByteBuffer? {
        if try self.holdForGrace(
            request, file: file, session: session, transaction: transaction, allocator: allocator, respond: respond)
        {
            return nil
        }
        if request.flavor == .posix && request.type != .unlock {
            self.waiters.withLock { waiters in
                _ = waiters.ownersByFile[FileKey(session: session, file: request.file), default: []].insert(request.owner)
            }
        }
        let owner = LockOwnerKey(session: session, owner: request.owner, pid: Int32(bitPattern: request.pid))
        let kind: LockKind = request.flavor == .flock ? .flock : .posix
        let range = ByteRange(request.range.start, request.range.end)
        let ok = FrameEncoding.reply(EmptyResponse(), opcode: .setlk, transaction: transaction, allocator: allocator)
        let decision: LockDecision<ObjectHandle>
        let lockRequest = LockRequest(
            file: file, owner: owner, kind: kind, mode: request.type == .write ? .exclusive : .shared, range: range)
        do {
            if request.type == .unlock {
                self.deliverRecordGrants(try self.records.unlock(owner, kind: kind, file: file, range: range, at: self.now))
                return ok
            }
            decision = try self.records.lock(lockRequest, wait: request.wait, at: self.now)
        } catch {
            throw error.errno
        }
        self.deliverRecordGrants(decision.grants)
        switch decision.outcome {
        case .granted:
            return ok
        case .wouldBlock:
            throw Errno(EAGAIN)
        case .deadlock:
            throw Errno(EDEADLK)
        case .queued(let ticket):
            let waiter = RecordWaiter(
                session: session, transaction: transaction, request: lockRequest, respond: respond, allocator: allocator)
            let grantedAlready = self.waiters.withLock { waiters -> Bool in
                if case .grantedEarly? = waiters.records.removeValue(forKey: ticket) { return true }
                waiters.records[ticket] = .waiting(waiter)
                waiters.ticketsByRequest[RequestKey(session: session, transaction: transaction)] = ticket
                return false
            }
            return grantedAlready ? ok : nil
        }
    }

    /// CANCEL: the client gave up on the blocked SETLK `transaction` (its caller was signalled).
    /// The blocked request is answered EINTR; if the grant won the race, the lock is dropped
    /// again, since the process was already told it failed.
    func cancel(_ transaction: TransactionID, session: SessionID) {
        let key = RequestKey(session: session, transaction: transaction)
        if self.cancelGraceHold(key) { return }
        let (ticket, granted): (LockTicket?, LockRequest<ObjectHandle>?) = self.waiters.withLock { waiters in
            (waiters.ticketsByRequest[key], waiters.recentlyGranted.removeValue(forKey: key))
        }
        if let granted {
            let grants = try? self.records.unlock(
                granted.owner, kind: granted.kind, file: granted.file, range: granted.range, at: self.now)
            self.deliverRecordGrants(grants ?? [])
            return
        }
        guard let ticket else { return }
        guard let grants = try? self.records.cancel(ticket, at: self.now) else {
            // Granted between the two looks: the grant's delivery answers it; undo as above.
            return self.cancel(transaction, session: session)
        }
        let waiter: RecordWaiter? = self.waiters.withLock { waiters in
            waiters.ticketsByRequest[key] = nil
            guard case .waiting(let waiter)? = waiters.records.removeValue(forKey: ticket) else { return nil }
            return waiter
        }
        if let waiter {
            waiter.respond(
                FrameEncoding.errorReply(
                    .interrupted, opcode: .setlk, transaction: waiter.transaction, allocator: waiter.allocator))
        }
        self.deliverRecordGrants(grants)
    }

    /// A `close(2)` (FLUSH): POSIX drops every lock the process holds on the file.
    func closed(file: ObjectHandle, owner: LockOwner, session: SessionID) {
        self.deliverRecordGrants(
            self.records.releaseAll(owner: LockOwnerKey(session: session, owner: owner), kind: .posix, in: file, at: self.now))
    }

    /// The last close of an open file description (RELEASE): drops its flock locks (`flockOwner`,
    /// when the kernel names one) and the record locks of every owner that locked through it.
    /// OFD locks reach a FUSE filesystem as POSIX locks owned by the open file description, and
    /// FLUSH names the closing process instead, so this is where they end. A process's own POSIX
    /// locks were already dropped by the FLUSH that precedes every RELEASE.
    func released(file: ObjectHandle, handle: FileHandleID, flockOwner: LockOwner?, session: SessionID) {
        let owners = self.waiters.withLock { $0.ownersByFile.removeValue(forKey: FileKey(session: session, file: handle)) }
        var grants: [LockGrant<ObjectHandle>] = []
        if let flockOwner {
            grants += self.records.releaseAll(
                owner: LockOwnerKey(session: session, owner: flockOwner), kind: .flock, in: file, at: self.now)
        }
        for owner in owners ?? [] {
            grants += self.records.releaseAll(
                owner: LockOwnerKey(session: session, owner: owner), kind: .posix, in: file, at: self.now)
        }
        self.deliverRecordGrants(grants)
    }

    /// Answers the blocked SETLKs that `grants` let through.
    func deliverRecordGrants(_ grants: [LockGrant<ObjectHandle>]) {
        for grant in grants {
            let waiter: RecordWaiter? = self.waiters.withLock { waiters in
                guard case .waiting(let waiter)? = waiters.records.removeValue(forKey: grant.ticket) else {
                    waiters.records[grant.ticket] = .grantedEarly
                    return nil
                }
                let key = RequestKey(session: waiter.session, transaction: waiter.transaction)
                waiters.ticketsByRequest[key] = nil
                if waiters.recentlyGranted.count > 4096 { waiters.recentlyGranted.removeAll() }
                waiters.recentlyGranted[key] = waiter.request
                return waiter
            }
            guard let waiter else { continue }
            waiter.respond(
                FrameEncoding.reply(EmptyResponse(), opcode: .setlk, transaction: waiter.transaction, allocator: waiter.allocator))
        }
    }
}

/// POSIX (fcntl, OFD) and flock locks, enforced by the server across all clients.
extension FileSystemOperations {
    public func getlk(
        file: FileHandleID, owner: LockOwner, type: FileLockType, range: WireLockRange, caller: Caller, reply: LockReply
    ) {
        let request = GetlkRequest(file: file, owner: owner, type: type, range: range, pid: caller.pid)
        self.perform(request, caller: caller, reply: reply) { reply.lock($0) }
    }

    /// Takes, changes or drops a lock. A blocking request (`wait`) is answered when the server
    /// grants it; if the waiting process is interrupted, the request is answered EINTR and the
    /// server is told to stop waiting (CANCEL), so the lock is never granted to nobody.
    ///
    /// `acquired`, when given, runs once a lock is granted and before the caller is told: it is
    /// the cache coherency point (the mount drops the file's cached pages and attributes, so
    /// what another client wrote under the lock is read afresh) and calls its argument when done.
    public func setlk(
        file: FileHandleID, owner: LockOwner, flavor: FileLockFlavor, type: FileLockType, range: WireLockRange,
        wait: Bool, caller: Caller, reply: EmptyReply,
        acquired: (@Sendable (_ then: @escaping @Sendable () -> Void) -> Void)? = nil
    ) {
        let request = SetlkRequest(
            file: file, owner: owner, flavor: flavor, type: type, range: range, pid: caller.pid, wait: wait)
        let client = self.client
        let transaction = client.send(request, caller: caller) { result in
            switch result {
            case .success:
                if type != .unlock, let acquired { acquired { reply.ok() } } else { reply.ok() }
            case .failure(let error): reply.fail(error)
            }
        }
        if wait {
            reply.onInterrupt {
                client.send(CancelRequest(transaction: transaction), caller: caller) { _ in }
            }
        }
    }
}

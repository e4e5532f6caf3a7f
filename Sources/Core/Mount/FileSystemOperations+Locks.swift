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
    /// Taking a lock is a cache coherency point, as on NFS: once the server grants it, and before
    /// the caller is told, the kernel drops `node`'s cached pages and attributes (through the
    /// `KernelNotifier`, off the network thread), so a process that locks and then reads (SQLite)
    /// sees what another client wrote under the lock. Unlocking drops nothing.
    public func setlk(
        _ node: NodeID, file: FileHandleID, owner: LockOwner, flavor: FileLockFlavor, type: FileLockType,
        range: WireLockRange, wait: Bool, caller: Caller, reply: EmptyReply
    ) {
        self.lockingOwners.asking(owner, on: node)
        let notifier = type == .unlock ? nil : self.notifier
        let request = SetlkRequest(
            file: file, owner: owner, flavor: flavor, type: type, range: range, pid: caller.pid, wait: wait)
        let client = self.client
        let transaction = client.send(request, caller: caller) { result in
            switch result {
            case .success:
                if let notifier {
                    notifier.invalidate(node, offset: 0, length: 0) { reply.ok() }
                } else {
                    reply.ok()
                }
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

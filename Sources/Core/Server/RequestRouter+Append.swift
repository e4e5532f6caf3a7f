/// APPEND: a write at the server's own end of file, as one transaction (AppendMessages).
extension RequestRouter {
    /// How often an append starts over because the file shrank between finding its end and
    /// locking from there (a concurrent truncation); then it locks the whole file.
    static var appendAttempts: Int { 4 }

    mutating func registerAppend() {
        let store = self.store
        let locks = self.locks
        let maximumTransaction = self.maximumTransaction
        self.onChange(AppendRequest.self) { request, context in
            guard request.data.readableBytes <= maximumTransaction else { throw Errno.invalid }
            let file = try context.session.file(request.file)
            let handle = store.objectHandle(of: file)
            var attempt = 0
            while true {
                attempt += 1
                // Lock from the end as last seen to the end of any file: every transaction that
                // could move the end (a write crossing it, an append) overlaps that range, so the
                // end read again under the lock stays put until the bytes are written.
                let start: UInt64 = attempt < Self.appendAttempts ? try store.endOfFile(file) : 0
                let landed = try locks.withTransactionLock(
                    file: handle, session: context.session.id, transaction: context.transaction,
                    mode: .exclusive, offset: start, length: Int.max
                ) { () -> AppendResponse? in
                    // Other servers over a shared store (CephFS) append to it too.
                    try store.excludingOtherServersAppends(to: file) {
                        let end = try store.endOfFile(file)
                        guard end >= start else { return nil }
                        let count = try store.write(file, offset: end, data: request.data, caller: context.caller)
                        return AppendResponse(offset: end, count: count)
                    }
                }
                // Other clients drop what they cache from the old end on (pages and size).
                if let landed { return (landed, handle, landed.offset, 0) }
            }
        }
    }
}

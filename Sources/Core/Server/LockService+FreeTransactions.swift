/// The transaction lock of a request served on an event loop, which must never wait: taken only
/// when the range is free now (no conflicting transaction running and none queued ahead, the
/// same FIFO rule `withTransactionLock` obeys), else the request goes to the thread pool and
/// waits there.
extension LockService {
    /// Runs `body` under the transaction lock if it can be taken without waiting; returns nil,
    /// without running `body`, if it cannot.
    func withTransactionLockIfFree<T>(
        file: ObjectHandle, session: SessionID, transaction: TransactionID, mode: LockMode, offset: UInt64,
        length: Int, _ body: () throws -> T
    ) throws -> T? {
        guard self.transactionLocking, length > 0, let range = try? ByteRange(offset: offset, length: UInt64(length))
        else { return try body() }
        let request = LockRequest.transaction(
            file: file, session: session, transaction: transaction, mode: mode, range: range)
        guard let decision = try? self.transactions.lock(request, wait: false, at: self.now),
            case .granted = decision.outcome
        else { return nil }
        self.deliverTransactionGrants(decision.grants)
        defer {
            let grants = (try? self.transactions.unlock(
                request.owner, kind: .transaction, file: file, range: request.range, at: self.now)) ?? []
            self.deliverTransactionGrants(grants)
        }
        return try body()
    }
}

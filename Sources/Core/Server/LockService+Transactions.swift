import Dispatch

/// Transaction locks: a WRITE holds an exclusive and a READ a shared lock on its page-aligned
/// range for exactly the duration of its I/O, so overlapping transactions are serialized and a
/// reader sees any one transaction's bytes all before or all after.
///
/// Runs on the I/O thread pool. A transaction that must wait blocks its pool thread on a
/// semaphore: it can only wait behind transactions that are running (a transaction holds no
/// lock while waiting for another), so the wait is short and cannot deadlock.
extension LockService {
    func withTransactionLock<T>(
        file: ObjectHandle, session: SessionID, transaction: TransactionID, mode: LockMode, offset: UInt64,
        length: Int, _ body: () throws -> T
    ) throws -> T {
        guard self.transactionLocking, length > 0, let range = try? ByteRange(offset: offset, length: UInt64(length))
        else { return try body() }
        let request = LockRequest.transaction(
            file: file, session: session, transaction: transaction, mode: mode, range: range)
        let decision: LockDecision<ObjectHandle>
        do {
            decision = try self.transactions.lock(request, wait: true, at: self.now)
        } catch {
            throw error.errno
        }
        self.deliverTransactionGrants(decision.grants)
        if case .queued(let ticket) = decision.outcome { self.waitForTransactionGrant(ticket) }
        defer {
            let grants = (try? self.transactions.unlock(
                request.owner, kind: .transaction, file: file, range: request.range, at: self.now)) ?? []
            self.deliverTransactionGrants(grants)
        }
        return try body()
    }

    private func waitForTransactionGrant(_ ticket: LockTicket) {
        let semaphore = DispatchSemaphore(value: 0)
        let mustWait = self.waiters.withLock { waiters -> Bool in
            if case .grantedEarly? = waiters.transactions.removeValue(forKey: ticket) { return false }
            waiters.transactions[ticket] = .waiting(semaphore)
            return true
        }
        if mustWait { semaphore.wait() }
    }

    func deliverTransactionGrants(_ grants: [LockGrant<ObjectHandle>]) {
        for grant in grants {
            let semaphore: DispatchSemaphore? = self.waiters.withLock { waiters in
                guard case .waiting(let semaphore)? = waiters.transactions.removeValue(forKey: grant.ticket) else {
                    waiters.transactions[grant.ticket] = .grantedEarly
                    return nil
                }
                return semaphore
            }
            semaphore?.signal()
        }
    }
}

import Dispatch
import Logging
import NIOCore
import Synchronization

/// The server's use of the range-lock manager: POSIX, OFD and flock locks for clients, and the
/// transaction locks that make every READ and WRITE atomic (DESIGN "Consistency contract" 1).
///
/// Two lock tables (a `SharedLockManager` and a `StripedLockManager`), because the two families never conflict with each other
/// (`LockKind`): `records` for client locks and `transactions` for I/O, so the hot I/O path never
/// contends with lock traffic.
///
/// Grants come back from the managers as values; this service carries them out (answering a
/// blocked SETLK, waking a blocked transaction) after the manager's mutex is released.
///
/// Locking: `waiters` and `sessions` each have their own mutex, never held while replying and
/// never held while calling into a manager (take the manager's mutex first, release it, then
/// these).
public final class LockService: Sendable {
    /// Whether READ and WRITE take transaction locks. Off only for the test that proves the
    /// torn-read checker can fail (`pohmelfs serve --unsafe-no-transaction-locks`).
    public let transactionLocking: Bool
    /// How long the locks of a disconnected client are kept before they are released.
    public let lease: Duration

    let records = SharedLockManager<ObjectHandle>()
    /// Striped by file: transactions on different files never share a mutex.
    let transactions = StripedLockManager<ObjectHandle>()
    let clock = ContinuousClock()
    let logger: Logger

    /// A blocked SETLK waiting for its grant, or a grant that arrived before its waiter was filed.
    enum RecordWait {
        case waiting(RecordWaiter)
        case grantedEarly
    }

    struct RecordWaiter {
        var session: SessionID
        var transaction: TransactionID
        var request: LockRequest<ObjectHandle>
        /// Sends a frame on the waiter's connection.
        var respond: @Sendable (ByteBuffer) -> Void
        var allocator: ByteBufferAllocator
    }

    struct Waiters {
        var records: [LockTicket: RecordWait] = [:]
        var ticketsByRequest: [RequestKey: LockTicket] = [:]
        /// Blocked requests granted recently, so a CANCEL that loses the race to the grant can
        /// undo it (the client has already told the kernel EINTR). Bounded per session.
        var recentlyGranted: [RequestKey: LockRequest<ObjectHandle>] = [:]
        var transactions: [LockTicket: TransactionWait] = [:]
        /// Lock owners that took record locks through each open file, so the final RELEASE can
        /// drop OFD locks (whose owner is the open file description, not the closing process).
        var ownersByFile: [FileKey: Set<LockOwner>] = [:]
    }

    struct FileKey: Hashable {
        var session: SessionID
        var file: FileHandleID
    }

    struct RequestKey: Hashable {
        var session: SessionID
        var transaction: TransactionID
    }

    enum TransactionWait {
        case waiting(DispatchSemaphore)
        case grantedEarly
    }

    /// Who a session is, for the lock inspector.
    public struct SessionInfo: Sendable {
        public var client: String
        public var peer: String
    }

    let waiters = Mutex(Waiters())
    let sessions = Mutex<[SessionID: SessionInfo]>([:])
    /// When the grace period after start ends (`LockService+Grace`); nil: no grace period.
    let graceEnds: ContinuousClock.Instant?
    /// Blocking lock requests held back until the grace period ends, for CANCEL.
    let heldForGrace = Mutex<[RequestKey: GraceHold]>([:])

    public init(
        transactionLocking: Bool = true, lease: Duration = .seconds(10), gracePeriod: Duration = .zero,
        logger: Logger
    ) {
        self.transactionLocking = transactionLocking
        self.lease = lease
        self.logger = logger
        self.graceEnds = gracePeriod > .zero ? self.clock.now + gracePeriod : nil
    }

    var now: ContinuousClock.Instant { self.clock.now }

    // MARK: - Sessions

    func sessionStarted(_ id: SessionID, client: String, peer: String) {
        self.sessions.withLock { $0[id] = SessionInfo(client: client, peer: peer) }
    }

    /// The connection of `id` closed: its blocked requests are withdrawn now (no one is left to
    /// answer); its locks are kept for the lease and then released.
    func sessionEnded(_ id: SessionID, on eventLoop: any EventLoop) {
        self.sessionDetached(id)
        eventLoop.scheduleTask(in: TimeAmount(self.lease)) { self.sessionExpired(id) }
    }

    /// The connection of `id` dropped: its blocked requests are withdrawn (the client resends
    /// them if it comes back); its locks stay until `sessionExpired`. Returns the transactions
    /// withdrawn, which will never be answered (the reply cache must forget them, or their
    /// resent copies would wait for nothing).
    @discardableResult
    func sessionDetached(_ id: SessionID) -> [TransactionID] {
        let tickets = self.waiters.withLock { waiters in
            let keys = waiters.ticketsByRequest.keys.filter { $0.session == id }
            waiters.recentlyGranted = waiters.recentlyGranted.filter { $0.key.session != id }
            return keys.compactMap { key -> (LockTicket, TransactionID)? in
                let ticket = waiters.ticketsByRequest.removeValue(forKey: key)
                if let ticket { waiters.records[ticket] = nil }
                return ticket.map { ($0, key.transaction) }
            }
        }
        for (ticket, _) in tickets {
            if let grants = try? self.records.cancel(ticket, at: self.now) { self.deliverRecordGrants(grants) }
        }
        return tickets.map(\.1)
    }

    /// `id` did not come back within the lease: its locks are released and waiters woken.
    func sessionExpired(_ id: SessionID) {
        self.waiters.withLock { waiters in
            waiters.ownersByFile = waiters.ownersByFile.filter { $0.key.session != id }
        }
        let grants = self.records.releaseSession(id, at: self.now)
        self.sessions.withLock { _ = $0.removeValue(forKey: id) }
        self.logger.debug(
            "lease of disconnected session ended; its locks are released",
            metadata: [LogKey.session: "\(id.rawValue)"])
        self.deliverRecordGrants(grants)
    }
}

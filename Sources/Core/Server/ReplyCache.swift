import NIOCore
import Synchronization

/// The replies one session may ask for again: what makes a resent request take effect exactly
/// once (the NFSv4.1 session reply cache, in miniature).
///
/// The client keeps every request until it is answered and resends the unanswered ones after
/// reconnecting. For a replay-unsafe request (`Opcode.isReplayUnsafe`: create, rename, unlink,
/// write, ...) whose first copy was already applied, performing it again would be wrong (a
/// second append, EEXIST for an exclusive create that succeeded, ENOENT for a rename that did).
/// So the server files each such request by transaction id when it starts, keeps its reply when
/// it finishes, and answers a second copy from here:
/// - not seen: perform it (and file it as in progress);
/// - in progress: do nothing; the first copy's reply goes to the session's current connection;
/// - done: send the kept reply again.
///
/// Bounds: the newest `capacity` finished replies per session (default 1024; replies of these
/// requests are a few hundred bytes, so about 300 KiB at most); older ones are evicted in
/// arrival order. A client has far fewer requests in flight than that (the kernel's background
/// queue and the writeback window), so the reply of a request it may still resend is never
/// evicted. The cache lives in memory with its session: it survives a dropped connection for
/// the lock lease, but not a server restart. A replay-unsafe request whose reply was lost in a
/// restart is performed again by the new server: a positional write lands again (harmless); an
/// exclusive create may answer EEXIST, an unlink or rename ENOENT, and an O_APPEND write may
/// append twice. That is the same window NFS leaves open across a server reboot.
///
/// Locking: one mutex, never held while sending.
final class ReplyCache: Sendable {
    enum Admission: Equatable {
        /// First sight: perform the request.
        case perform
        /// A copy is being performed; its reply will go to the current connection.
        case inProgress
        /// Answered already: send this again.
        case answered(ByteBuffer)
    }

    private enum Slot {
        case inProgress
        case done(ByteBuffer)
    }

    private struct State {
        var slots: [TransactionID: Slot] = [:]
        /// Finished transactions, oldest first, for eviction.
        var order: [TransactionID] = []
        var orderStart = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    /// Files `transaction` as in progress unless it is known already.
    func admit(_ transaction: TransactionID) -> Admission {
        self.state.withLock { state in
            switch state.slots[transaction] {
            case nil:
                state.slots[transaction] = .inProgress
                return .perform
            case .inProgress:
                return .inProgress
            case .done(let reply):
                return .answered(reply)
            }
        }
    }

    /// Keeps the reply of `transaction`, evicting the oldest beyond `capacity`.
    func complete(_ transaction: TransactionID, reply: ByteBuffer) {
        self.state.withLock { state in
            state.slots[transaction] = .done(reply)
            state.order.append(transaction)
            while state.order.count - state.orderStart > self.capacity {
                state.slots[state.order[state.orderStart]] = nil
                state.orderStart += 1
            }
            // Compact now and then so `order` does not grow without bound.
            if state.orderStart > self.capacity {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
        }
    }

    /// Forgets an in-progress `transaction` that will never have a reply (the connection was
    /// closed for a malformed request), so a resent copy is performed rather than ignored.
    func abandon(_ transaction: TransactionID) {
        self.state.withLock { state in
            if case .inProgress? = state.slots[transaction] { state.slots[transaction] = nil }
        }
    }

    /// Finished replies kept, for tests and statistics.
    var count: Int { self.state.withLock { $0.order.count - $0.orderStart } }
}

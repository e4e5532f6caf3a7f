import Synchronization

/// The session's one log of delegated operations (ConsistencyContract "Delegated directories"):
/// numbered from 1, sent in order and pipelined, each answered by the server once applied (it
/// applies them strictly in order).
///
/// A file's bytes need no place in the log: `close` returns only once they are on the server
/// (FLUSH writes them back first), so every create sent after a close comes after its bytes, and
/// after a crash the server holds a prefix (the files before the last one whole).
///
/// `afterLog` runs a body once every entry queued so far is answered (a synchronous operation
/// that touches a delegated directory, fsync, a recall).
///
/// Thread-safe: one mutex, never held while sending or running a body.
final class DelegationLog: Sendable {
    /// Sends the entry; `answered` must be called once with its outcome.
    typealias Send = @Sendable (_ answered: @escaping @Sendable () -> Void) -> Void

    private struct State {
        var nextSeq: UInt64 = 1
        var queue: [(seq: UInt64, send: Send)] = []
        /// Sending is under way (one drainer at a time: entries leave in seq order).
        var draining = false
        var unanswered: Set<UInt64> = []
        var waiters: [(upTo: UInt64, body: @Sendable () -> Void)] = []
    }

    private let state = Mutex(State())

    /// Queues an entry built for its seq; returns the seq.
    @discardableResult
    func append(_ build: (UInt64) -> Send) -> UInt64 {
        let seq: UInt64 = self.state.withLock { state in
            let seq = state.nextSeq
            state.nextSeq += 1
            state.unanswered.insert(seq)
            state.queue.append((seq, build(seq)))
            return seq
        }
        self.drain()
        return seq
    }

    /// The last seq handed out (0: none).
    var lastSeq: UInt64 { self.state.withLock { $0.nextSeq - 1 } }

    /// Whether entries are queued or unanswered.
    var isBusy: Bool { self.state.withLock { !$0.unanswered.isEmpty } }

    /// Whether entry `seq` is answered.
    func isAnswered(_ seq: UInt64) -> Bool { self.state.withLock { !$0.unanswered.contains(seq) && seq < $0.nextSeq } }

    /// Runs `body` once every entry queued so far is answered (at once when none is pending).
    func afterLog(_ body: @escaping @Sendable () -> Void) {
        self.after(self.lastSeq, body)
    }

    /// Runs `body` once every entry through `seq` is answered.
    func after(_ seq: UInt64, _ body: @escaping @Sendable () -> Void) {
        let now: Bool = self.state.withLock { state in
            guard let first = state.unanswered.min(), first <= seq else { return true }
            state.waiters.append((seq, body))
            return false
        }
        if now { body() }
    }

    private func answered(_ seq: UInt64) {
        let ready: [@Sendable () -> Void] = self.state.withLock { state in
            state.unanswered.remove(seq)
            let first = state.unanswered.min() ?? .max
            let ready = state.waiters.filter { $0.upTo < first }.map(\.body)
            state.waiters.removeAll { $0.upTo < first }
            return ready
        }
        ready.forEach { $0() }
    }

    /// Sends queued entries in order until the queue is empty.
    private func drain() {
        while true {
            let item: (seq: UInt64, send: Send)? = self.state.withLock { state in
                guard !state.draining, !state.queue.isEmpty else { return nil }
                state.draining = true
                return state.queue.removeFirst()
            }
            guard let item else { return }
            item.send { self.answered(item.seq) }
            self.state.withLock { $0.draining = false }
        }
    }
}

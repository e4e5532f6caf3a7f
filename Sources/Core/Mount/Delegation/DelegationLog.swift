import Synchronization

/// The session's one log of delegated operations (ConsistencyContract "Delegated directories"):
/// numbered from 1, sent in order and pipelined, each answered by the server once applied (it
/// applies them strictly in order).
///
/// Between entries sit barriers: "the bytes written to this file are on the server". A barrier
/// holds back the entries after it until it is passed, so that after a crash the server holds a
/// prefix: no file is created after one whose bytes were written before it are missing.
///
/// `afterLog` runs a body once every entry queued so far is answered (a synchronous operation
/// that touches a delegated directory, fsync, a recall).
///
/// Thread-safe: one mutex, never held while sending or running a body.
final class DelegationLog: Sendable {
    enum Item: Sendable {
        /// Sends the entry; `answered` must be called once with its outcome.
        case entry(seq: UInt64, send: @Sendable (_ answered: @escaping @Sendable () -> Void) -> Void)
        /// Waits (without a thread) until `wait`'s completion is called.
        case barrier(wait: @Sendable (_ passed: @escaping @Sendable () -> Void) -> Void)
    }

    private struct State {
        var nextSeq: UInt64 = 1
        var queue: [Item] = []
        /// Sending is under way (one drainer at a time), or a barrier is being waited for.
        var draining = false
        var unanswered: Set<UInt64> = []
        var waiters: [(upTo: UInt64, body: @Sendable () -> Void)] = []
    }

    private let state = Mutex(State())

    /// Queues an entry built for its seq; returns the seq.
    @discardableResult
    func append(_ build: (UInt64) -> (@Sendable (_ answered: @escaping @Sendable () -> Void) -> Void)) -> UInt64 {
        let seq: UInt64 = self.state.withLock { state in
            let seq = state.nextSeq
            state.nextSeq += 1
            state.unanswered.insert(seq)
            state.queue.append(.entry(seq: seq, send: build(seq)))
            return seq
        }
        self.drain()
        return seq
    }

    /// Queues a barrier: later entries go once `wait` calls back.
    func barrier(_ wait: @escaping @Sendable (_ passed: @escaping @Sendable () -> Void) -> Void) {
        self.state.withLock { $0.queue.append(.barrier(wait: wait)) }
        self.drain()
    }

    /// The last seq handed out (0: none).
    var lastSeq: UInt64 { self.state.withLock { $0.nextSeq - 1 } }

    /// Whether entries are queued or unanswered.
    var isBusy: Bool { self.state.withLock { !$0.unanswered.isEmpty } }

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

    /// Sends queued entries in order until the queue is empty or a barrier waits.
    private func drain() {
        while true {
            let item: Item? = self.state.withLock { state in
                guard !state.draining, !state.queue.isEmpty else { return nil }
                state.draining = true
                return state.queue.removeFirst()
            }
            guard let item else { return }
            switch item {
            case .entry(let seq, let send):
                send { self.answered(seq) }
                self.state.withLock { $0.draining = false }
            case .barrier(let wait):
                wait {
                    self.state.withLock { $0.draining = false }
                    self.drain()
                }
                return
            }
        }
    }
}

import NIOCore
import Synchronization

/// The session's one log of delegated operations (ConsistencyContract "Delegated directories"):
/// numbered from 1, sent in order and pipelined, each answered by the server once applied (it
/// applies them strictly in order).
///
/// Between entries sit barriers: "the bytes of this closed file are on the server" (`close` of
/// a file created in a held directory does not wait for them). A barrier holds back the entries
/// after it until it is passed, so that the server holds a prefix at every instant, a crash
/// included: no file is created after one whose closed bytes are missing. The application
/// never waits for a barrier; the log's sending does.
///
/// `afterLog` runs a body once every entry queued so far is answered and every barrier queued
/// so far is passed (a synchronous operation that touches a delegated directory, fsync, a
/// recall).
///
/// Thread-safe: one mutex, never held while sending or running a body.
final class DelegationLog: Sendable {
    /// Sends the entry; `answered` must be called once with its outcome.
    typealias Send = @Sendable (_ answered: @escaping @Sendable () -> Void) -> Void

    /// What the queue holds, in order.
    private enum Item {
        case entry(seq: UInt64, send: Send)
        /// Waits (without a thread) until `wait`'s completion is called.
        case barrier(wait: @Sendable (_ passed: @escaping @Sendable () -> Void) -> Void)
        /// Reached once the barriers before it are passed: runs `body` once entries through
        /// `upTo` are answered.
        case marker(upTo: UInt64, body: @Sendable () -> Void)
    }

    private struct State {
        var nextSeq: UInt64 = 1
        /// A ring: a backlog of thousands of entries (tar faster than the server) is taken from
        /// the front one at a time.
        var queue = CircularBuffer<Item>()
        /// Sending is under way (one drainer at a time: entries leave in seq order), or a
        /// barrier is being waited for.
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
            state.queue.append(.entry(seq: seq, send: build(seq)))
            return seq
        }
        self.drain()
        return seq
    }

    /// Queues a barrier: later entries are sent once `wait` calls back.
    func barrier(_ wait: @escaping @Sendable (_ passed: @escaping @Sendable () -> Void) -> Void) {
        self.state.withLock { $0.queue.append(.barrier(wait: wait)) }
        self.drain()
    }

    /// The last seq handed out (0: none).
    var lastSeq: UInt64 { self.state.withLock { $0.nextSeq - 1 } }

    /// Whether entries are queued or unanswered, or a barrier is not passed. Markers (operations
    /// waiting for the log, `afterLog`) are not work: counting them made two waiting operations
    /// re-queue each other for ever (dbench on a delegation=on mount overflowed the stack).
    var isBusy: Bool {
        self.state.withLock { state in
            !state.unanswered.isEmpty || state.draining
                || state.queue.contains { item in
                    if case .marker = item { return false }
                    return true
                }
        }
    }

    /// Whether entry `seq` is answered.
    func isAnswered(_ seq: UInt64) -> Bool { self.state.withLock { !$0.unanswered.contains(seq) && seq < $0.nextSeq } }

    /// Runs `body` once every entry queued so far is answered and every barrier queued so far
    /// is passed (at once when nothing is pending).
    func afterLog(_ body: @escaping @Sendable () -> Void) {
        let queued: UInt64? = self.state.withLock { state in
            let upTo = state.nextSeq - 1
            guard state.draining || !state.queue.isEmpty else { return upTo }
            state.queue.append(.marker(upTo: upTo, body: body))
            return nil
        }
        guard let upTo = queued else { return self.drain() }
        self.after(upTo, body)
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
            case .marker(let upTo, let body):
                self.state.withLock { $0.draining = false }
                self.after(upTo, body)
            case .barrier(let wait):
                // A barrier already passed calls back before `wait` returns: go on in this loop
                // rather than recursing (thousands of closed files would overflow the stack).
                let pass = BarrierPass()
                wait {
                    guard pass.passed() else { return }
                    self.state.withLock { $0.draining = false }
                    self.drain()
                }
                guard pass.waitReturned() else { return }
                self.state.withLock { $0.draining = false }
            }
        }
    }
}

/// Who came first for one barrier: its callback (passed at once, the drain loop goes on) or the
/// return of `wait` (the callback, later, drains).
private final class BarrierPass: Sendable {
    /// 0: neither yet; 1: passed first; 2: `wait` returned first.
    private let order = Atomic<Int>(0)

    /// The callback: whether it must drain (`wait` returned first).
    func passed() -> Bool { !self.order.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }

    /// After `wait` returned: whether the barrier already passed (the loop goes on).
    func waitReturned() -> Bool { !self.order.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged }
}

import Dispatch
import PohmelfsCore
import Synchronization

/// Requests that can be interrupted, by a plain number, so libfuse's interrupt callback never
/// holds a pointer to a reply object that may already be gone.
///
/// An interrupt cuts a request short only where a local filesystem lets a signal cut a wait
/// short: each request comes with `mayCut`, true for a blocking lock wait, and for anything else
/// only while the mount waits for its server (connection lost). An interrupt that may not cut
/// now (a signal, or io_uring's task work, during an ordinary GETATTR the server is answering)
/// is remembered and looked at again every second until the request is answered, so a process
/// waiting on a lost server can still be interrupted (the kernel sends FUSE_INTERRUPT once).
///
/// libfuse calls the interrupt function with a `void *data` after dropping the session lock,
/// which can race a reply sent from the network thread; handing it a number to look up under
/// this registry's lock (instead of an object pointer) makes that race harmless.
final class InterruptRegistry: Sendable {
    static let shared = InterruptRegistry()

    private struct Entry {
        var reply: Reply
        var mayCut: @Sendable () -> Bool
    }

    private struct State {
        var next: UInt64 = 1
        var replies: [UInt64: Entry] = [:]
    }

    /// How often an interrupt that could not cut its request is looked at again.
    static let recheckInterval: DispatchTimeInterval = .seconds(1)

    private let state = Mutex(State())

    /// Reserves an id for a request about to be registered with `fuse_req_interrupt_func`.
    func reserve() -> UInt64 {
        self.state.withLock { state in
            let id = state.next
            state.next += 1
            return id
        }
    }

    func register(_ id: UInt64, _ reply: Reply, mayCut: @escaping @Sendable () -> Bool) {
        // Checked under the lock: a reply claims itself before its sink removes the id under
        // this same lock, so an answered request is either not inserted or removed afterwards.
        self.state.withLock { state in
            if !reply.isAnswered { state.replies[id] = Entry(reply: reply, mayCut: mayCut) }
        }
    }

    func remove(_ id: UInt64) {
        _ = self.state.withLock { $0.replies.removeValue(forKey: id) }
    }

    /// The kernel interrupted request `id`: answer EINTR if it is still pending and may be cut
    /// short now; otherwise look again later, until it is answered.
    func interrupt(_ id: UInt64) {
        guard let entry = self.state.withLock({ $0.replies[id] }) else { return }
        guard entry.mayCut() else {
            DispatchQueue.global().asyncAfter(deadline: .now() + Self.recheckInterval) { self.interrupt(id) }
            return
        }
        let reply = self.state.withLock { $0.replies.removeValue(forKey: id)?.reply }
        reply?.interrupt()
    }
}

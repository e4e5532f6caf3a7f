import PohmelfsCore
import Synchronization

/// Requests that can be interrupted, by a plain number, so libfuse's interrupt callback never
/// holds a pointer to a reply object that may already be gone.
///
/// libfuse calls the interrupt function with a `void *data` after dropping the session lock,
/// which can race a reply sent from the network thread; handing it a number to look up under
/// this registry's lock (instead of an object pointer) makes that race harmless.
final class InterruptRegistry: Sendable {
    static let shared = InterruptRegistry()

    private struct State {
        var next: UInt64 = 1
        var replies: [UInt64: Reply] = [:]
    }

    private let state = Mutex(State())

    /// Reserves an id for a request about to be registered with `fuse_req_interrupt_func`.
    func reserve() -> UInt64 {
        self.state.withLock { state in
            let id = state.next
            state.next += 1
            return id
        }
    }

    func register(_ id: UInt64, _ reply: Reply) {
        // Checked under the lock: a reply claims itself before its sink removes the id under
        // this same lock, so an answered request is either not inserted or removed afterwards.
        self.state.withLock { state in
            if !reply.isAnswered { state.replies[id] = reply }
        }
    }

    func remove(_ id: UInt64) {
        _ = self.state.withLock { $0.replies.removeValue(forKey: id) }
    }

    /// The kernel interrupted request `id`: answer EINTR if it is still pending.
    func interrupt(_ id: UInt64) {
        let reply = self.state.withLock { $0.replies.removeValue(forKey: id) }
        reply?.interrupt()
    }
}

import Synchronization

/// Opens once; bodies given to `wait` run when it is open (at once if it already is), on the
/// thread that opens it. A barrier of the `DelegationLog` waits on one for a file's write-back.
///
/// Thread-safe: one mutex, never held while running a body.
final class Latch: Sendable {
    private let state = Mutex<(open: Bool, waiters: [@Sendable () -> Void])>((false, []))

    func open() {
        let waiters = self.state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        waiters.forEach { $0() }
    }

    func wait(_ body: @escaping @Sendable () -> Void) {
        let now: Bool = self.state.withLock { state in
            if state.open { return true }
            state.waiters.append(body)
            return false
        }
        if now { body() }
    }
}

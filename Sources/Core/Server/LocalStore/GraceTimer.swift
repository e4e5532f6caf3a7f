import Dispatch
import NIOCore
import Synchronization

/// Runs the expiry handler (`onExpiry`) for each item `grace` after it was added, with one timer
/// for all of them.
///
/// The removal grace (`LocalDirectoryStore+Removal`) had armed a Dispatch timer per removed
/// object: during an `rm -rf` that was a `timerfd_settime` and an `epoll_ctl` on Dispatch's
/// manager thread for every few files, and a worker thread woken to end each batch of graces
/// (`strace -c` of the server over 10,000 creates and unlinks: 9,245 `timerfd_settime`, 8,566
/// `epoll_ctl`, 18,594 `futex`). Every item waits the same `grace`, so their deadlines arrive in
/// the order they were added: they wait in a ring, and the one timer is armed only when the
/// ring was empty, or after it fired, for the oldest deadline left plus `coalescing`, so the
/// items that came meanwhile expire together. An item expires at least `grace` and at most
/// `grace + coalescing` after it was added.
final class GraceTimer<Item: Sendable>: Sendable {
    private struct State {
        var waiting = CircularBuffer<(item: Item, deadline: DispatchTime)>()
        var armed = false
    }

    private let grace: DispatchTimeInterval
    private let coalescing: DispatchTimeInterval
    private let expire = Mutex<StoredCallback<Item>?>(nil)
    private let state = Mutex(State())

    init(grace: DispatchTimeInterval, coalescing: DispatchTimeInterval = .milliseconds(50)) {
        self.grace = grace
        self.coalescing = coalescing
    }

    /// Sets what happens to an item whose grace is over (its owner, once initialized).
    func onExpiry(_ expire: @escaping @Sendable (Item) -> Void) {
        let stored = StoredCallback(expire)
        self.expire.withLock { $0 = stored }
    }

    /// `item` expires `grace` from now.
    func add(_ item: Item) {
        let deadline = DispatchTime.now() + self.grace
        let arm = self.state.withLock { state -> Bool in
            state.waiting.append((item, deadline))
            guard !state.armed else { return false }
            state.armed = true
            return true
        }
        if arm { self.arm(at: deadline + self.coalescing) }
    }

    /// How many items wait (for tests).
    var count: Int { self.state.withLock { $0.waiting.count } }

    private func arm(at deadline: DispatchTime) {
        DispatchQueue.global().asyncAfter(deadline: deadline) { [weak self] in self?.fire() }
    }

    private func fire() {
        let now = DispatchTime.now()
        let (due, next): ([Item], DispatchTime?) = self.state.withLock { state in
            var due: [Item] = []
            while let first = state.waiting.first, first.deadline <= now {
                due.append(state.waiting.removeFirst().item)
            }
            guard let first = state.waiting.first else {
                state.armed = false
                return (due, nil)
            }
            return (due, first.deadline)
        }
        if let next { self.arm(at: next + self.coalescing) }
        guard !due.isEmpty, let expire = self.expire.withLock({ $0 }) else { return }
        for item in due { expire.call(item) }
    }
}

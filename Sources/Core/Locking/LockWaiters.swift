/// The queue of requests waiting to lock ranges of one file: a pure state machine (STYLE
/// guideline 9) that decides, against the file's held locks, who may go next.
///
/// FIFO fairness: a waiting request holds back every later request that overlaps it in a
/// conflicting mode, even if that later request conflicts with no held lock. A writer that waits
/// behind readers therefore blocks every reader that arrives after it, and a stream of readers
/// cannot starve it. (Linux does not do this; its readers can starve a writer.)
///
/// One exception keeps the queue from deadlocking its own holders: a waiter does not hold back a
/// request whose holder it is itself waiting for, directly or through other waiters of this
/// file. If A holds a read lock and B waits to write, A can still extend or upgrade its own read
/// lock: B could not go before A anyway. Dependencies through other files are not followed here;
/// for POSIX locks the `DeadlockDetector` catches the cycles they could form.
///
/// Grants happen in `grantReady(held:at:)`, which the lock manager calls after every change to
/// the file. It repeatedly grants the earliest waiter that nothing blocks, until none is left;
/// the rule is the same for every request, so a request is granted at once exactly when it
/// would be granted straight away had it been queued.
struct LockWaiters: Sendable {
    /// One waiting request.
    struct Waiter: Hashable, Sendable {
        /// Names the request until it is granted or cancelled.
        var ticket: LockTicket
        /// The requested lock; `since` is when the request was queued.
        var lock: FileLock
    }

    /// What keeps a request waiting: a held lock, or an earlier waiter the queue keeps ahead of it.
    enum Blocker: Hashable, Sendable {
        case held(FileLock)
        case waiting(Waiter)

        /// The blocking lock (held or requested).
        var lock: FileLock {
            switch self {
            case .held(let lock): return lock
            case .waiting(let waiter): return waiter.lock
            }
        }
    }

    /// The waiters in arrival order (tickets ascending).
    private(set) var queue: [Waiter] = []

    /// Whether no request waits.
    var isEmpty: Bool { self.queue.isEmpty }

    /// Appends a request; it goes behind everything already waiting.
    mutating func enqueue(_ waiter: Waiter) {
        self.queue.append(waiter)
    }

    /// Removes the waiter with `ticket`, if it is waiting here.
    mutating func remove(_ ticket: LockTicket) -> Waiter? {
        guard let index = self.queue.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        return self.queue.remove(at: index)
    }

    /// Removes every waiter matching `predicate` and returns them.
    mutating func removeAll(where predicate: (Waiter) -> Bool) -> [Waiter] {
        let removed = self.queue.filter(predicate)
        if !removed.isEmpty {
            self.queue.removeAll(where: predicate)
        }
        return removed
    }

    /// What would block `request` if it joined the queue now: conflicting held locks first (in list
    /// order), then conflicting waiters (in queue order). Empty means it can be granted at once.
    func blockers(ofNew request: FileLock, held: FileLockList) -> [Blocker] {
        let dependencies = self.dependencies(held: held, upTo: self.queue.count)
        return Self.blockers(of: request, held: held, ahead: self.queue[...], dependencies: dependencies).blockers
    }

    /// What keeps the waiter with `ticket` waiting, or nil if no such waiter is queued here.
    func blockers(of ticket: LockTicket, held: FileLockList) -> [Blocker]? {
        guard let index = self.queue.firstIndex(where: { $0.ticket == ticket }) else { return nil }
        let dependencies = self.dependencies(held: held, upTo: index)
        let ahead = self.queue[..<index]
        return Self.blockers(of: self.queue[index].lock, held: held, ahead: ahead, dependencies: dependencies).blockers
    }

    /// What keeps each waiter waiting, in queue order; for the lock inspector.
    func allBlockers(held: FileLockList) -> [(waiter: Waiter, blockers: [Blocker])] {
        var dependencies: [Set<LockHolder>] = []
        var result: [(waiter: Waiter, blockers: [Blocker])] = []
        for index in self.queue.indices {
            let ahead = self.queue[..<index]
            let found = Self.blockers(of: self.queue[index].lock, held: held, ahead: ahead, dependencies: dependencies)
            dependencies.append(found.dependencies)
            result.append((self.queue[index], found.blockers))
        }
        return result
    }

    /// Grants, one at a time, the earliest waiter nothing blocks, merging its lock into `held`
    /// stamped with `now`, until no waiter can go. Returns the granted waiters in grant order.
    ///
    /// After each grant the scan starts again from the front: a grant can downgrade its holder's
    /// locks (and so unblock an earlier waiter) and changes what earlier waiters depend on. The
    /// cost is quadratic in the queue length per grant in the worst case; queues are short, and
    /// the common case (the front waiter can go) costs one conflict scan per grant.
    mutating func grantReady(held: inout FileLockList, at now: ContinuousClock.Instant) -> [Waiter] {
        var granted: [Waiter] = []
        scan: while true {
            var dependencies: [Set<LockHolder>] = []
            dependencies.reserveCapacity(self.queue.count)
            for index in self.queue.indices {
                let ahead = self.queue[..<index]
                let found = Self.blockers(
                    of: self.queue[index].lock,
                    held: held,
                    ahead: ahead,
                    dependencies: dependencies
                )
                if found.blockers.isEmpty {
                    let waiter = self.queue.remove(at: index)
                    var lock = waiter.lock
                    lock.since = now
                    held.merge(lock)
                    granted.append(waiter)
                    continue scan
                }
                dependencies.append(found.dependencies)
            }
            return granted
        }
    }

    /// The dependency sets of the first `count` waiters (see `blockers(of:held:ahead:dependencies:)`).
    private func dependencies(held: FileLockList, upTo count: Int) -> [Set<LockHolder>] {
        var dependencies: [Set<LockHolder>] = []
        dependencies.reserveCapacity(count)
        for index in 0..<count {
            let ahead = self.queue[..<index]
            let found = Self.blockers(of: self.queue[index].lock, held: held, ahead: ahead, dependencies: dependencies)
            dependencies.append(found.dependencies)
        }
        return dependencies
    }

    /// The rule itself. `request` stands behind the waiters `ahead`, whose dependency sets (the
    /// holders each waits for, directly or through other waiters) are `dependencies`, index for
    /// index. It is blocked by every held lock it conflicts with, and by every earlier waiter it
    /// conflicts with unless that waiter depends on the request's holder. Returns the blockers and
    /// the request's own dependency set.
    private static func blockers(
        of request: FileLock,
        held: FileLockList,
        ahead: ArraySlice<Waiter>,
        dependencies: [Set<LockHolder>]
    ) -> (blockers: [Blocker], dependencies: Set<LockHolder>) {
        var blockers: [Blocker] = []
        var depends: Set<LockHolder> = []
        for lock in held.locks where lock.conflicts(with: request) {
            blockers.append(.held(lock))
            depends.insert(lock.holder)
        }
        let holder = request.holder
        for (offset, waiter) in zip(0..., ahead) where waiter.lock.conflicts(with: request) {
            // The waiter waits (perhaps through others) for this request's holder: making the
            // request wait behind it would close a cycle inside this file's queue.
            if dependencies[offset].contains(holder) {
                continue
            }
            blockers.append(.waiting(waiter))
            depends.insert(waiter.lock.holder)
            depends.formUnion(dependencies[offset])
        }
        return (blockers, depends)
    }
}

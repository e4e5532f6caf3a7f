/// Decides whether a blocking request may wait, by following the waits-for graph from the holders
/// that block it and looking for the requester, as the kernel's `posix_locks_deadlock` does.
///
/// Nodes are holders; a holder waits for the holders that block its waiting requests (held
/// conflicting locks, and earlier waiters the FIFO queue keeps ahead of it). A holder can have
/// several waiting requests (threads of one process) and a request several blockers, so the walk
/// is breadth-first over all of them, one hop per round.
///
/// Like Linux, the walk stops after `maximumDepth` hops: a longer cycle goes undetected and its
/// requests simply wait (until a signal cancels one), rather than the server spending unbounded
/// time under its lock. The detector is a pure function; the lock manager supplies the edges.
struct DeadlockDetector {
    /// Hops followed before giving up, as `MAX_DEADLK_ITERATIONS` in fs/locks.c.
    static let maximumDepth = 10

    /// Whether `requester`, if it waited for `blockers`, would wait for itself.
    ///
    /// - Parameters:
    ///   - requester: the holder about to wait.
    ///   - blockers: the holders its request would wait for.
    ///   - waitsFor: for a holder, the holders its own waiting requests wait for; empty for a
    ///     holder that waits for nothing or whose waits are not followed (non-POSIX kinds).
    static func wouldDeadlock(
        requester: LockHolder,
        blockers: [LockHolder],
        waitsFor: (LockHolder) -> [LockHolder]
    ) -> Bool {
        var visited: Set<LockHolder> = []
        var frontier = blockers
        for _ in 0...Self.maximumDepth {
            var next: [LockHolder] = []
            for holder in frontier where visited.insert(holder).inserted {
                if holder == requester {
                    return true
                }
                next.append(contentsOf: waitsFor(holder))
            }
            if next.isEmpty {
                return false
            }
            frontier = next
        }
        return false
    }
}

import Synchronization

/// Which node each calling thread's last LOOKUP returned, and when: how the client tells an
/// OPEN that follows the kernel's own fresh lookup of the name (its path walk, or the retry
/// with `LOOKUP_REVAL` after an ESTALE) from an OPEN through a name the kernel cached earlier.
///
/// The first may open an object another client has just renamed over or removed, as a local
/// filesystem's open does when the rename comes between its path walk and the open itself; the
/// second is answered ESTALE by the server so that the kernel looks the name up again
/// (`OpenRequest.resolvedJustNow`, ConsistencyContract "Namespace").
///
/// Bounded: at most `capacity` threads are remembered; beyond that the table starts over (a
/// forgotten lookup only costs the caller one more ESTALE and retry).
///
/// Locking: `entries` is protected by its mutex; nothing else happens while it is held.
public final class RecentLookups: Sendable {
    struct Lookup {
        var node: NodeID
        var at: ContinuousClock.Instant
    }

    /// How long after a LOOKUP an OPEN of its node by the same thread counts as following it.
    public static let window: Duration = .seconds(1)
    let capacity: Int
    private let entries = Mutex<[UInt32: Lookup]>([:])

    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// A LOOKUP by thread `pid` returned `node`.
    public func looked(up node: NodeID, by pid: UInt32, at now: ContinuousClock.Instant = .now) {
        guard pid != 0 else { return }
        self.entries.withLock { entries in
            if entries.count >= self.capacity, entries[pid] == nil { entries.removeAll(keepingCapacity: true) }
            entries[pid] = Lookup(node: node, at: now)
        }
    }

    /// Whether thread `pid`'s last LOOKUP returned `node` within `window`; forgets that lookup
    /// either way, so it vouches for one OPEN at most.
    public func opening(_ node: NodeID, by pid: UInt32, at now: ContinuousClock.Instant = .now) -> Bool {
        guard pid != 0 else { return false }
        return self.entries.withLock { entries in
            guard let lookup = entries.removeValue(forKey: pid) else { return false }
            return lookup.node == node && now - lookup.at <= Self.window
        }
    }
}

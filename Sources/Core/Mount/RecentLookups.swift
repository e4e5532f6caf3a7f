import Synchronization

/// Tells the OPEN of the kernel's ESTALE retry apart from any other OPEN, per calling thread.
///
/// When an OPEN through a cached name is answered ESTALE (another client removed or renamed over
/// the file), the kernel walks the path again with LOOKUP_REVAL: a LOOKUP of each component,
/// then the OPEN of the node the last one returned. That OPEN follows the kernel's own fresh
/// lookup of the name, so the object it names may be opened even if yet another client has
/// renamed over it since, as a local filesystem's open does when a rename comes between its path
/// walk and the open (`OpenRequest.resolvedJustNow`, ConsistencyContract "Namespace"). The kernel
/// retries only once, so without this a second rename in that window failed the open.
///
/// Only that pattern counts: an OPEN answered ESTALE, then LOOKUPs by the same thread, then its
/// OPEN of the node the last LOOKUP returned, all within `window`. An OPEN after a LOOKUP made
/// by an earlier system call (`access` then `open`, through the cached entry) is not vouched for:
/// locally that open would find the name gone, and here it is answered ESTALE and looked up again.
///
/// Bounded: at most `capacity` threads are remembered; beyond that the table starts over (a
/// forgotten retry only costs the caller the ESTALE it would have had anyway).
///
/// Locking: `entries` is protected by its mutex; nothing else happens while it is held.
public final class RecentLookups: Sendable {
    struct Retry {
        /// When the OPEN was answered ESTALE.
        var staleAt: ContinuousClock.Instant
        /// The node the thread's last LOOKUP since then returned.
        var node: NodeID?
    }

    /// How long the retry may take from the ESTALE to its OPEN.
    public static let window: Duration = .seconds(1)
    let capacity: Int
    private let entries = Mutex<[UInt32: Retry]>([:])

    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// An OPEN by thread `pid` was answered ESTALE: its kernel is about to retry.
    public func openWasStale(by pid: UInt32, at now: ContinuousClock.Instant = .now) {
        guard pid != 0 else { return }
        self.entries.withLock { entries in
            if entries.count >= self.capacity, entries[pid] == nil { entries.removeAll(keepingCapacity: true) }
            entries[pid] = Retry(staleAt: now, node: nil)
        }
    }

    /// A LOOKUP by thread `pid` returned `node`.
    public func looked(up node: NodeID, by pid: UInt32) {
        guard pid != 0 else { return }
        self.entries.withLock { entries in
            if entries[pid] != nil { entries[pid]!.node = node }
        }
    }

    /// Whether this OPEN of `node` by thread `pid` is the retry's: the thread's OPEN was answered
    /// ESTALE within `window`, and its last LOOKUP since returned `node`. Either way the thread's
    /// retry is over.
    public func opening(_ node: NodeID, by pid: UInt32, at now: ContinuousClock.Instant = .now) -> Bool {
        guard pid != 0 else { return false }
        return self.entries.withLock { entries in
            guard let retry = entries.removeValue(forKey: pid) else { return false }
            return retry.node == node && now - retry.staleAt <= Self.window
        }
    }
}

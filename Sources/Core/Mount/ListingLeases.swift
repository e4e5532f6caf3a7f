import Synchronization

/// The directories whose listing this client holds under a lease (capability `listingLeases`;
/// ConsistencyContract "Opening a directory"): a leased OPENDIR said so, and no break has named
/// a name in the directory since. OPENDIR of such a directory is answered without a request
/// (`OpenDirectories`): the kernel keeps its cached listing, and if it has none (dropped by a
/// break or under memory pressure) its READDIR opens the directory on the server first.
///
/// Thread-safe: one mutex, never held while calling out. Marked on the network thread, which
/// also handles breaks, so a break that follows a reply is applied after the reply marked.
public final class ListingLeases: Sendable {
    /// The most directories remembered at once; past it, OPENDIR goes to the server.
    public static let capacity = 1 << 16
    private let held = Mutex<Set<NodeID>>([])

    public init() {}

    /// Whether `directory`'s listing is leased to this client now.
    public func holds(_ directory: NodeID) -> Bool { self.held.withLock { $0.contains(directory) } }

    /// A leased OPENDIR of `directory` was answered (`leased` is checked under the mutex, as
    /// `LeaseState` checks its ticket).
    func leased(_ directory: NodeID, if leased: () -> Bool) {
        self.held.withLock { held in
            if held.count < Self.capacity, leased() { held.insert(directory) }
        }
    }

    /// A break named a name in `directory`, or the kernel forgot it.
    func forget(_ directory: NodeID) { _ = self.held.withLock { $0.remove(directory) } }

    /// The session's leases are gone.
    func forgetAll() { self.held.withLock { $0.removeAll() } }
}

import Synchronization

/// The directories whose listing this client holds under a lease (capability `listingLeases`;
/// ConsistencyContract "Opening a directory"): a leased OPENDIR said so, and no break has named
/// a name in the directory, nor the directory's attributes, since. OPENDIR of such a directory
/// is answered without a request (`OpenDirectories`): the kernel keeps its cached listing, and
/// if it has none (dropped by a break or under memory pressure) its READDIR opens the directory
/// on the server first.
///
/// Permission: the server checks each OPENDIR as its caller. So a directory is opened here
/// alone only for credentials (uid, gid, groups) the server let open it under the same lease; a
/// change of the directory's attributes (mode, owner, ACL), here or elsewhere, forgets them all.
///
/// Thread-safe: one mutex, never held while calling out. Marked on the network thread, which
/// also handles breaks, so a break that follows a reply is applied after the reply marked.
public final class ListingLeases: Sendable {
    /// Who opened a directory: what the server's permission check depended on.
    struct Credentials: Hashable, Sendable {
        var uid: UInt32
        var gid: UInt32
        var groups: [UInt32]
        init(_ caller: Caller) { (self.uid, self.gid, self.groups) = (caller.uid, caller.gid, caller.groups) }
    }

    /// The most directories remembered at once; past it, OPENDIR goes to the server.
    public static let capacity = 1 << 16
    private let held = Mutex<[NodeID: Set<Credentials>]>([:])

    public init() {}

    /// Whether `directory`'s listing is leased to this client now, opened by `caller` before.
    public func holds(_ directory: NodeID, for caller: Caller) -> Bool {
        self.held.withLock { $0[directory]?.contains(Credentials(caller)) ?? false }
    }

    /// `caller`'s OPENDIR of `directory` was answered under the lease (`leased` is checked under
    /// the mutex, as `LeaseState` checks its ticket).
    func leased(_ directory: NodeID, for caller: Caller, if leased: () -> Bool) {
        self.held.withLock { held in
            guard held[directory] != nil || held.count < Self.capacity, leased() else { return }
            held[directory, default: []].insert(Credentials(caller))
        }
    }

    /// A break named a name in `directory` or its attributes, or the kernel forgot it.
    func forget(_ directory: NodeID) { _ = self.held.withLock { $0.removeValue(forKey: directory) } }

    /// The session's leases are gone.
    func forgetAll() { self.held.withLock { $0.removeAll() } }
}

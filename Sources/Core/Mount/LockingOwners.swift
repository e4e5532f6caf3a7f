import Synchronization

/// The lock owners that ever asked the server for a lock on each node, so that a FLUSH (a
/// process closing a descriptor) from an owner that never did is answered without a request:
/// the server's FLUSH only drops that owner's POSIX locks on the object, and it has none.
///
/// An owner is recorded before its first lock request is sent and never forgotten while the
/// node lives (a lock granted to a request still in flight is never missed). Locking: one mutex,
/// never held while calling out.
public final class LockingOwners: Sendable {
    private let owners = Mutex<[NodeID: Set<LockOwner>]>([:])

    public init() {}

    /// `owner` is about to ask for a lock on `node`.
    public func asking(_ owner: LockOwner, on node: NodeID) {
        _ = self.owners.withLock { $0[node, default: []].insert(owner) }
    }

    /// Whether `owner` may hold a lock on `node`.
    public func mayHold(_ owner: LockOwner, on node: NodeID) -> Bool {
        self.owners.withLock { $0[node]?.contains(owner) ?? false }
    }

    /// The kernel forgot `node`: nothing is open on it, and the server dropped its locks with
    /// the last RELEASE.
    public func forget(_ node: NodeID) {
        _ = self.owners.withLock { $0.removeValue(forKey: node) }
    }
}

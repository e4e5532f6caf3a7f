import Synchronization

/// The attributes of directories as the server last described them under a lease
/// (ConsistencyContract "Directory attributes"): GETATTR of such a directory is answered by the
/// client.
///
/// Why: after every READDIR the kernel forgets a directory's access time and asks GETATTR at its
/// next `stat` (FUSE marks the atime stale; libfuse 3.14 has no way to turn that off), so the
/// second `find` or `du` over a tree listed under leases still sent one request per directory.
///
/// An entry is valid while no LEASE_BREAK or INVALIDATE arrived since it was learned (the
/// lease's counter, `LeaseState.ticket`: any break at all forgets every entry, as the kernel's
/// leased timeouts are cut short) and this client changed nothing in the directory: every
/// namespace operation, setattr or xattr change of this client names the directories it changes
/// (`changing`) before it is sent or answered locally, which forgets them and keeps replies
/// already on their way from being learned.
///
/// A directory's owner and mode are kept apart (`maySearch`): a name made in the directory
/// changes its times and link count, not who may search it, so they outlive `changing` and are
/// forgotten only by a break, by this client's own setattr or extended-attribute change of the
/// directory (`changingPermissions`), or when the kernel forgets the directory.
///
/// Thread-safe: one mutex.
final class LeasedDirectoryAttributes: Sendable {
    /// Taken just before a request whose reply may describe a directory is sent.
    struct Ticket: Sendable {
        fileprivate let breaks: UInt64
        fileprivate let changes: UInt64
        fileprivate let permissionChanges: UInt64
    }

    private struct State {
        var table: [NodeID: (attributes: FileAttributes, breaks: UInt64)] = [:]
        var permissions: [NodeID: (uid: UInt32, mode: UInt32, breaks: UInt64)] = [:]
        /// Bumped by every `changing`.
        var changes: UInt64 = 0
        /// Bumped by every `changingPermissions`.
        var permissionChanges: UInt64 = 0
    }

    /// Beyond this many directories the table starts again empty.
    static let capacity = 1 << 16
    private let leases: LeaseState
    private let state = Mutex(State())

    init(leases: LeaseState) { self.leases = leases }

    func ticket() -> Ticket {
        let breaks = self.leases.ticket()
        return self.state.withLock { Ticket(breaks: breaks, changes: $0.changes, permissionChanges: $0.permissionChanges) }
    }

    /// The server described `node` with `attributes` in reply to a request sent at `ticket`:
    /// kept when it is a directory and neither a break nor a change of this client came since.
    func learned(_ node: NodeID, _ attributes: FileAttributes?, ticket: Ticket?) {
        guard let attributes, let ticket, attributes.mode & 0o170000 == 0o040000, node != NodeID(0),
            self.leases.holds(ticket.breaks)
        else { return }
        self.state.withLock { state in
            if state.permissionChanges == ticket.permissionChanges {
                if state.permissions.count >= Self.capacity { state.permissions.removeAll(keepingCapacity: true) }
                state.permissions[node] = (attributes.uid, attributes.mode, ticket.breaks)
            }
            guard state.changes == ticket.changes else { return }
            if state.table.count >= Self.capacity { state.table.removeAll(keepingCapacity: true) }
            state.table[node] = (attributes, ticket.breaks)
        }
    }

    /// Whether `caller` may search directory `node` as its owner (the owner's search bit; ACLs
    /// keep the owner's entry in those bits), by what the server last said under the lease.
    /// False when that is not known: the caller is then the server's to judge.
    func maySearch(_ node: NodeID, _ caller: Caller) -> Bool {
        let breaks = self.leases.ticket()
        return self.state.withLock { state in
            guard let known = state.permissions[node], known.breaks == breaks else { return false }
            return known.uid == caller.uid && known.mode & 0o100 != 0
        }
    }

    /// This client is about to change `node`'s mode, owner or ACL (a setattr, an extended
    /// attribute): its permissions are forgotten with its attributes, and no reply already on
    /// its way is learned.
    func changingPermissions(_ node: NodeID) {
        self.state.withLock { state in
            state.changes &+= 1
            state.permissionChanges &+= 1
            state.table[node] = nil
            state.permissions[node] = nil
        }
    }

    /// What the server said `node` is, when that still holds under the lease.
    func attributes(of node: NodeID) -> FileAttributes? {
        let breaks = self.leases.ticket()
        return self.state.withLock { state in
            guard let known = state.table[node] else { return nil }
            guard known.breaks == breaks else {
                state.table[node] = nil
                return nil
            }
            return known.attributes
        }
    }

    /// This client is about to change `nodes` (a name made or removed in them, their own
    /// attributes): forgotten, and no reply already on its way is learned.
    func changing(_ nodes: NodeID...) {
        self.state.withLock { state in
            state.changes &+= 1
            for node in nodes { state.table[node] = nil }
        }
    }

    /// This client is about to move a name (RENAME): a directory moved changes too, and which
    /// one it is, if any, is known only to the server. Forgets every directory.
    func changingAny() {
        self.state.withLock { state in
            state.changes &+= 1
            state.table.removeAll(keepingCapacity: true)
        }
    }

    /// The kernel forgot `node`.
    func forget(_ node: NodeID) {
        self.state.withLock { state in
            state.table[node] = nil
            state.permissions[node] = nil
        }
    }
}

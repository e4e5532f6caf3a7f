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
/// A RENAME by this client changes the directory it moves (its change time, and its `..`) as
/// well as the two parents, and the kernel names only the parents: so the table keeps a
/// directory only while it knows where it is (`Place`: the parent and name a LOOKUP, a listing
/// or a MKDIR gave it, under the same lease), and a RENAME forgets the directories at its two
/// names, if any, besides the parents. (Forgetting every directory at every RENAME cost `git
/// status`, which renames its index each time, one GETATTR per directory of the work tree.)
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

    /// A directory's parent and name.
    struct Place: Hashable {
        var parent: NodeID
        var name: FileName
    }

    private struct State {
        var table: [NodeID: (attributes: FileAttributes, breaks: UInt64)] = [:]
        /// Where each directory was last seen, and under which lease (`breaks`); `byPlace` is
        /// the reverse. A directory is in `table` only with a place seen under its lease.
        var places: [NodeID: (place: Place, breaks: UInt64)] = [:]
        var byPlace: [Place: NodeID] = [:]
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
    /// kept when it is a directory and neither a break nor a change of this client came since,
    /// and it is known where the directory is: `place` (a LOOKUP's, a listing's, a MKDIR's), or
    /// one seen under the same lease (a GETATTR names no place).
    func learned(_ node: NodeID, _ attributes: FileAttributes?, ticket: Ticket?, at place: Place? = nil) {
        guard let attributes, let ticket, attributes.mode & 0o170000 == 0o040000, node != NodeID(0),
            self.leases.holds(ticket.breaks)
        else { return }
        self.state.withLock { state in
            if state.permissionChanges == ticket.permissionChanges {
                if state.permissions.count >= Self.capacity { state.permissions.removeAll(keepingCapacity: true) }
                state.permissions[node] = (attributes.uid, attributes.mode, ticket.breaks)
            }
            guard state.changes == ticket.changes else { return }
            if state.table.count >= Self.capacity || state.places.count >= Self.capacity {
                state.table.removeAll(keepingCapacity: true)
                state.places.removeAll(keepingCapacity: true)
                state.byPlace.removeAll(keepingCapacity: true)
            }
            if let place, place.name != ".", place.name != ".." {
                Self.unplace(node, &state)
                state.places[node] = (place, ticket.breaks)
                state.byPlace[place] = node
            } else if node != .root {
                guard let known = state.places[node], known.breaks == ticket.breaks else { return }
            }
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

    /// This client is about to move `from` to `to` (RENAME, or an exchange of the two): the
    /// parents, and a directory known at either name (the one moved, or one exchanged or
    /// replaced), are forgotten; no reply already on its way is learned.
    func renaming(from: Place, to: Place) {
        self.state.withLock { state in
            state.changes &+= 1
            state.table[from.parent] = nil
            state.table[to.parent] = nil
            for place in [from, to] {
                guard let directory = state.byPlace[place] else { continue }
                state.table[directory] = nil
                Self.unplace(directory, &state)
            }
        }
    }

    /// The kernel forgot `node`.
    func forget(_ node: NodeID) {
        self.state.withLock { state in
            state.table[node] = nil
            state.permissions[node] = nil
            Self.unplace(node, &state)
        }
    }

    private static func unplace(_ node: NodeID, _ state: inout State) {
        guard let old = state.places.removeValue(forKey: node) else { return }
        if state.byPlace[old.place] == node { state.byPlace[old.place] = nil }
    }
}

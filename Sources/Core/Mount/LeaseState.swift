import Synchronization

/// The client's side of leases on names and attributes (`CacheCoherence+Leases` on the server;
/// ConsistencyContract "Leases on names and attributes").
///
/// - A reply is leased only when no LEASE_BREAK or INVALIDATE arrived, and no reconnection
///   happened, between sending the request and handling its reply (`ticket`, `holds`): the
///   server sends such a notice ahead of any reply a change crossed, so a stale answer never
///   gets a long timeout. A reply that is not leased gets timeouts of 0.
/// - The names the kernel caches under a lease are remembered, so that a reconnection (the
///   server dropped the session's leases while it was away) can make the kernel forget them all;
///   past `capacity` names a reply gets the mount's ordinary timeouts instead.
/// - Directories this client made are known complete (`bornEmpty`) until a break names them:
///   a lookup there of a name it never made is answered "absent" without a request.
/// - Directories wholly listed under a lease (`listedWhole`) are known complete the same way.
/// - Objects known to lack one of the extended attributes asked for again and again
///   (`ProbedXattr`: the kernel's `security.capability` check before every write, `ls -l`'s
///   `security.selinux` and `system.posix_acl_access` of every file) answer without a request,
///   until a break or INVALIDATE of the object. Learned from the server's ENODATA (when it grants
///   the attribute lease with GETXATTR, capability `xattrLeases`), or at create
///   (no `security.capability`), separately for root and for other callers, whom the server
///   answers differently (`security.` is root's alone).
///
/// Thread-safe: the counter is atomic, the tables are behind their own mutexes (never held
/// while calling out).
public final class LeaseState: Sendable {
    /// How long the kernel may cache a leased entry or attributes (`-o lease_timeout`).
    public let duration: Double
    /// The most names remembered at once.
    public static let capacity = 1 << 18
    private let breaks = Atomic<UInt64>(0)
    /// Names cached under a lease, by directory node. Protected by its mutex.
    private let names = Mutex<(table: [NodeID: Set<FileName>], count: Int)>(([:], 0))
    /// Per node, the probed attributes it is known to lack: `ProbedXattr` bits for root in the
    /// low four bits, for other callers in the high four. Protected by its mutex.
    private let absentXattrs = Mutex<[NodeID: UInt8]>([:])
    /// Directories this client made and whose every name it knows: the names it made there
    /// itself (or tried to). Protected by its mutex.
    private let complete = Mutex<[NodeID: Set<FileName>]>([:])
    /// Names this client started to make (or move) anywhere, counted: a listing read while one
    /// was on its way may lack it, and does not make its directory known complete.
    private let additions = Atomic<UInt64>(0)
    /// Directories whose listing is leased (capability `listingLeases`); nil without it.
    public let listings: ListingLeases?
    /// The server grants the lease on an object's attributes with GETXATTR (capability
    /// `xattrLeases`): only then is an absence it reports kept. Without it the lease may have
    /// ended with a break before the GETXATTR, and nothing would break the absence.
    public let xattrs: Bool

    public init(duration: Double, listings: Bool = false, xattrs: Bool = false) {
        self.duration = duration
        self.listings = listings ? ListingLeases() : nil
        self.xattrs = xattrs
    }

    /// Taken just before a request that may be answered under a lease is sent.
    public func ticket() -> UInt64 { self.breaks.load(ordering: .acquiring) }

    /// Whether the reply to a request sent at `ticket` carries a lease.
    public func holds(_ ticket: UInt64) -> Bool { self.breaks.load(ordering: .acquiring) == ticket }

    /// A LEASE_BREAK or INVALIDATE arrived (called on the network thread, before the replies
    /// that follow it are handled). `node` is an object it names, if the kernel knows it.
    public func broke(_ nodes: [NodeID] = []) {
        self.breaks.add(1, ordering: .releasing)
        guard !nodes.isEmpty else { return }
        self.absentXattrs.withLock { absent in for node in nodes { absent.removeValue(forKey: node) } }
        // A directory's permissions may have changed: OPENDIR asks the server again.
        for node in nodes { self.listings?.forget(node) }
    }

    /// Remembers that the kernel caches `name` in `parent` under a lease; false when the table
    /// is full (the reply then gets the ordinary timeouts).
    public func remember(_ name: FileName, in parent: NodeID) -> Bool {
        self.names.withLock { names in
            if names.table[parent]?.contains(name) == true { return true }
            guard names.count < Self.capacity else { return false }
            names.table[parent, default: []].insert(name)
            names.count += 1
            return true
        }
    }

    /// A break named `name` in `parent`: the kernel forgets it now, and another client changed
    /// names in `parent`, which is no longer known complete.
    public func forget(_ name: FileName, in parent: NodeID) {
        self.names.withLock { names in
            if names.table[parent]?.remove(name) != nil { names.count -= 1 }
        }
        _ = self.complete.withLock { $0.removeValue(forKey: parent) }
        self.listings?.forget(parent)
    }

    /// Taken before the first READDIR of a listing that may make its directory known complete.
    public func listingTicket() -> (breaks: UInt64, additions: UInt64) {
        (self.ticket(), self.additions.load(ordering: .acquiring))
    }

    /// The whole listing of `directory`, read from its start to its end under the lease taken at
    /// `ticket`, is `names`: any other name is absent until a break names a name there or this
    /// client makes it (`adding`). Refused when a break came or this client started to make a
    /// name meanwhile (the listing may predate it).
    public func listedWhole(_ directory: NodeID, names: Set<FileName>, ticket: (breaks: UInt64, additions: UInt64)) {
        self.complete.withLock { complete in
            guard self.holds(ticket.breaks), self.additions.load(ordering: .acquiring) == ticket.additions else { return }
            complete[directory] = names
        }
    }

    /// This client made directory `node` under the lease taken at `ticket` (MKDIR also leases the
    /// new directory's names): it is empty, and every name in it will be one this client makes,
    /// until a break names it.
    public func bornEmpty(_ node: NodeID, ticket: UInt64) {
        self.complete.withLock { complete in
            if self.holds(ticket) { complete[node] = [] }
        }
    }

    /// This client is about to make (or move) `name` in `parent`: from now on the name is asked
    /// of the server, never assumed absent. Called before the request is sent.
    public func adding(_ name: FileName, in parent: NodeID) {
        self.additions.add(1, ordering: .releasing)
        self.complete.withLock { complete in
            if complete[parent] != nil { complete[parent]!.insert(name) }
        }
    }

    /// Whether `name` is certainly absent from `parent`: a directory this client made, where
    /// nobody else has made a name since and this client never made this one.
    /// A name the server refuses (too long, say) is never "absent": the server says why.
    public func isKnownAbsent(_ name: FileName, in parent: NodeID) -> Bool {
        guard name.validate() == nil else { return false }
        return self.complete.withLock { complete in complete[parent].map { !$0.contains(name) } ?? false }
    }

    /// The kernel forgot `node`: what is known of it goes, and if a directory, its names.
    public func forgetDirectory(_ node: NodeID) {
        _ = self.absentXattrs.withLock { $0.removeValue(forKey: node) }
        self.names.withLock { names in
            if let removed = names.table.removeValue(forKey: node) { names.count -= removed.count }
        }
        _ = self.complete.withLock { $0.removeValue(forKey: node) }
        self.listings?.forget(node)
    }

    /// The session's leases are gone (reconnection): no reply in flight carries one, nothing
    /// is known about capabilities, and the names returned must be forgotten by the kernel.
    public func renew() -> [NodeID: Set<FileName>] {
        self.breaks.add(1, ordering: .releasing)
        self.absentXattrs.withLock { $0.removeAll() }
        self.complete.withLock { $0.removeAll() }
        self.listings?.forgetAll()
        return self.names.withLock { names in
            defer { names = ([:], 0) }
            return names.table
        }
    }

    /// `node` was created here: it has no `security.capability`, for anyone (under the lease
    /// taken at `ticket`).
    public func noteNoCapability(_ node: NodeID, ticket: UInt64) {
        let bit = ProbedXattr.capability.rawValue
        self.noteAbsent(node, bits: bit | bit << 4, ticket: ticket)
    }

    /// The server answered `caller`'s GETXATTR of probed attribute `xattr` of `node` with
    /// ENODATA, under the lease taken at `ticket` (kept only when the server granted that lease
    /// with the GETXATTR: `xattrs`).
    public func noteAbsent(_ xattr: ProbedXattr, of node: NodeID, for caller: Caller, ticket: UInt64) {
        guard self.xattrs else { return }
        self.noteAbsent(node, bits: Self.bits(xattr, caller), ticket: ticket)
    }

    private func noteAbsent(_ node: NodeID, bits: UInt8, ticket: UInt64) {
        self.absentXattrs.withLock { absent in
            // Checked under the mutex `broke` takes after counting: a break that came in between
            // either is seen here or removes the node afterwards.
            if self.holds(ticket) { absent[node, default: 0] |= bits }
        }
    }

    /// Whether `node` is known to lack `xattr` as the server answers `caller`.
    public func isAbsent(_ xattr: ProbedXattr, of node: NodeID, for caller: Caller) -> Bool {
        let bits = Self.bits(xattr, caller)
        return self.absentXattrs.withLock { ($0[node] ?? 0) & bits == bits }
    }

    private static func bits(_ xattr: ProbedXattr, _ caller: Caller) -> UInt8 {
        caller.uid == 0 ? xattr.rawValue : xattr.rawValue << 4
    }
}

/// The extended attributes the kernel and everyday tools ask for about almost every file,
/// and that are almost always absent: their absence is kept under the lease (`LeaseState`).
public enum ProbedXattr: UInt8, Sendable {
    /// The kernel's check before every write(2) and at exec.
    case capability = 1
    /// `ls -l`, `cp -a`, `find -context` on every file (libselinux).
    case selinux = 2
    /// `ls -l` (the `+` after the mode), `cp -a`, `tar --acls` (libacl).
    case aclAccess = 4
    /// The same, for directories.
    case aclDefault = 8

    /// Made once: every GETXATTR the kernel sends is matched against them.
    private static let names: [(name: [UInt8], xattr: ProbedXattr)] = [
        (Array("security.capability".utf8), .capability), (Array("security.selinux".utf8), .selinux),
        (Array("system.posix_acl_access".utf8), .aclAccess), (Array("system.posix_acl_default".utf8), .aclDefault),
    ]

    public init?(name: [UInt8]) {
        guard let found = Self.names.first(where: { $0.name == name }) else { return nil }
        self = found.xattr
    }
}

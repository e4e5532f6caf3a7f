/// Who owns a lock: a lock owner within one client session (DESIGN "Range locks").
///
/// The kernel's lock owner is only unique on one client, so the server pairs it with the session
/// the request arrived on. What the owner stands for depends on the kind of lock: a process
/// (really its file table) for POSIX locks, an open file description for OFD and flock locks, a
/// single request for transaction locks (see `init(session:transaction:)`).
///
/// `pid` is for display only (the lock inspector shows it where the client knows it): it is not
/// part of the identity, so `==` and `hashValue` ignore it. Threads of one process share an
/// owner but not a pid.
public struct LockOwnerKey: Hashable, Sendable, CustomStringConvertible {
    /// The client session the owner lives in.
    public var session: SessionID
    /// The owner within that session, as the client's kernel names it.
    public var owner: LockOwner
    /// The process that made the request, where known. Not part of the identity.
    public var pid: Int32?

    public init(session: SessionID, owner: LockOwner, pid: Int32? = nil) {
        self.session = session
        self.owner = owner
        self.pid = pid
    }

    /// The owner of a transaction lock: each request in flight is its own owner, so two
    /// transactions of one client conflict like transactions of two clients. Only meaningful with
    /// `LockKind.transaction`; the kind keeps it apart from a POSIX owner with the same number.
    public init(session: SessionID, transaction: TransactionID) {
        self.init(session: session, owner: LockOwner(transaction.rawValue))
    }

    public static func == (lhs: LockOwnerKey, rhs: LockOwnerKey) -> Bool {
        lhs.session == rhs.session && lhs.owner == rhs.owner
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.session)
        hasher.combine(self.owner)
    }

    /// A total order on identities (pid ignored), used to keep `FileLockList` sorted by owner.
    func precedes(_ other: LockOwnerKey) -> Bool {
        if self.session.rawValue != other.session.rawValue {
            return self.session.rawValue < other.session.rawValue
        }
        return self.owner.rawValue < other.owner.rawValue
    }

    public var description: String {
        let pid = self.pid.map { " pid:\($0)" } ?? ""
        return "\(self.session) \(self.owner)\(pid)"
    }
}

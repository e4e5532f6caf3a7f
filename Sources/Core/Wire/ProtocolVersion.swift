/// Protocol constants negotiated or checked in HELLO and in every frame header.
public enum ProtocolVersion {
    /// "PHFS" read as a little-endian integer: the first four bytes of every frame.
    public static let magic: UInt32 = 0x5346_4850
    /// The version this build speaks. HELLO picks the highest version both sides support.
    public static let current: UInt16 = 1
    /// The oldest version this build still speaks.
    public static let oldestSupported: UInt16 = 1
    /// The default TCP port of `pohmelfs serve` (unassigned by IANA; "POHM" on a phone keypad is 7646).
    public static let defaultPort = 7646
    /// The smallest maximum transaction size a server may offer: one write or read request of at
    /// least this many bytes is applied atomically.
    public static let minimumTransactionSize: UInt32 = 1 << 20
    /// The largest payload a frame may carry before HELLO raises or lowers it: a 1 MiB
    /// transaction plus generous room for its header fields.
    public static let defaultMaximumPayload: UInt32 = (1 << 20) + 64 * 1024
    /// Capability bits exchanged in HELLO.
    public struct Capabilities: OptionSet, Hashable, Sendable {
        public var rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// The server checks permissions as the caller (it can switch identity per request).
        public static let callerIdentity = Capabilities(rawValue: 1 << 0)
        /// Object handles survive a server restart (kernel file handles are reopenable).
        public static let persistentHandles = Capabilities(rawValue: 1 << 1)
        /// Readdir can return attributes and handles with each entry.
        public static let readdirPlus = Capabilities(rawValue: 1 << 2)
        /// Writes take exclusive and reads shared page-range locks (atomic transactions).
        public static let transactionLocks = Capabilities(rawValue: 1 << 3)
        /// HELLO can resume a session; the server keeps a reply cache per session, answers PING,
        /// REOPEN and reclaiming SETLKs (SessionMessages, ResilienceMessages).
        public static let sessionResume = Capabilities(rawValue: 1 << 4)
        /// APPEND writes at the server's end of file under the exclusive transaction lock and
        /// answers the offset it used (AppendMessages).
        public static let atomicAppend = Capabilities(rawValue: 1 << 5)
        /// CREATE can take the new file's write-back grant in the same round trip
        /// (`CreateRequest.wantsGrant`, `CreateResponse.granted`).
        public static let grantOnCreate = Capabilities(rawValue: 1 << 6)
        /// HELLO carries a session secret: the server gives each new session a random secret
        /// (HelloResponse `sessionSecret`), and a resuming HELLO must present it
        /// (HelloRequest `resumeSecret`), so a session id alone resumes nothing.
        public static let sessionSecret = Capabilities(rawValue: 1 << 7)
        /// Delegated directories (`DelegationMessages`): offered by a client that answers
        /// DELEG_RECALL, echoed by a server that then delegates every directory the session makes
        /// and answers PREALLOC, DELEG_CREATE, DELEG_UNLINK and DELEG_RETURN.
        public static let delegation = Capabilities(rawValue: 1 << 8)
        /// Leases on names and attributes (`LeaseBreakNotice`): offered by a client that answers
        /// LEASE_BREAK, echoed by a server that then treats what it answers to LOOKUP, GETATTR,
        /// SETATTR, CREATE, MKDIR, MKNOD, SYMLINK, LINK and READDIR (plus) as leased to the session.
        public static let leases = Capabilities(rawValue: 1 << 9)
        /// Listing leases: offered with `leases`, echoed with it by a server whose READDIR with
        /// `plus` leases the directory's names and the attributes of the entries it describes;
        /// the client then leases READDIRPLUS entries, answers OPENDIR itself under the listing
        /// lease and knows a wholly listed directory's names (Messages, "Listing leases").
        public static let listingLeases = Capabilities(rawValue: 1 << 10)
        /// Other servers change this server's export too (the CephFS store): the server grants no
        /// leases and the client caches no data, attributes or names (ConsistencyContract,
        /// "Several servers over one CephFS").
        public static let sharedStore = Capabilities(rawValue: 1 << 11)
        /// Offered by a client that sends OPENDIR_LIST, echoed by a server that answers it
        /// (`OpendirListRequest`): a directory opened and its first batch read in one round trip.
        public static let openAndList = Capabilities(rawValue: 1 << 12)
        /// Offered by a client that asks OPEN for the file's first bytes, echoed by a server that
        /// reads them (`OpenRequest.wantsFirstRead`, `OpenResponse.firstRead`).
        public static let firstRead = Capabilities(rawValue: 1 << 13)
        /// Offered by a client that wants a WRITE's reply to carry the file's attributes after the
        /// write, echoed by a server that sends them (`WriteResponse.attributes`), as NFSv3's
        /// WRITE returns its post-operation attributes: a client that wrote back buffered bytes
        /// then knows the times the server stamped without asking (`WriteBehind`).
        public static let writeAttributes = Capabilities(rawValue: 1 << 14)
        /// Offered by a client that keeps, under its lease on an object's attributes, what
        /// GETXATTR said is absent; echoed by a server that grants that lease with every GETXATTR
        /// it answers with a value or ENODATA (as LOOKUP and GETATTR do), so that a change of
        /// the object's extended attributes by another client breaks it first.
        public static let xattrLeases = Capabilities(rawValue: 1 << 15)
    }
}

/// Every message the protocol knows, and everything there is to know about each: its log name,
/// its direction, whether it is answered, and its request and reply types. Code that needs any
/// of that asks this table instead of switching over opcodes itself.
public enum Opcode: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case hello = 1
    case lookup = 2
    case getattr = 3
    case setattr = 4
    case readlink = 5
    case symlink = 6
    case mknod = 7
    case mkdir = 8
    case unlink = 9
    case rmdir = 10
    case rename = 11
    case link = 12
    case open = 13
    case read = 14
    case write = 15
    case flush = 16
    case release = 17
    case fsync = 18
    case opendir = 19
    case readdir = 20
    case releasedir = 21
    case statfs = 22
    case setxattr = 23
    case getxattr = 24
    case listxattr = 25
    case removexattr = 26
    case access = 27
    case create = 28
    case fallocate = 29
    case copyFileRange = 30
    case getlk = 31
    case setlk = 32
    case cancel = 33
    case lockTable = 34
    case invalidateDone = 35
    case ping = 36
    case reopen = 37
    case writebackGrant = 38
    case grantRelease = 39
    case auth = 40
    case append = 41
    case prealloc = 42
    case delegatedCreate = 43
    case delegatedUnlink = 44
    case delegationReturn = 45
    case opendirList = 46

    /// Server-to-client notices live above 0x8000.
    case invalidate = 0x8001
    case lockGranted = 0x8002
    case recall = 0x8003
    case leaseBreak = 0x8004
    case delegationRecall = 0x8005

    public enum Direction: Sendable {
        /// Sent by the client; the server answers exactly once, with the same transaction id.
        case request
        /// Sent by the server; not answered.
        case notice
    }

    /// One row of the table.
    public struct Descriptor: Sendable {
        public var name: StaticString
        public var direction: Direction
        /// The payload type of the frame that carries this opcode from its sender.
        public var messageType: any WireMessage.Type
        /// The payload type of a successful reply; nil for notices.
        public var replyType: (any WireMessage.Type)?
        public var expectsReply: Bool { self.replyType != nil }
    }

    private static func request<R: WireRequest>(_ name: StaticString, _ type: R.Type) -> Descriptor {
        Descriptor(name: name, direction: .request, messageType: type, replyType: R.Response.self)
    }

    private static func notice<N: WireNotice>(_ name: StaticString, _ type: N.Type) -> Descriptor {
        Descriptor(name: name, direction: .notice, messageType: type, replyType: nil)
    }

    public var descriptor: Descriptor {
        switch self {
        case .hello: Self.request("HELLO", HelloRequest.self)
        case .lookup: Self.request("LOOKUP", LookupRequest.self)
        case .getattr: Self.request("GETATTR", GetattrRequest.self)
        case .setattr: Self.request("SETATTR", SetattrRequest.self)
        case .readlink: Self.request("READLINK", ReadlinkRequest.self)
        case .symlink: Self.request("SYMLINK", SymlinkRequest.self)
        case .mknod: Self.request("MKNOD", MknodRequest.self)
        case .mkdir: Self.request("MKDIR", MkdirRequest.self)
        case .unlink: Self.request("UNLINK", UnlinkRequest.self)
        case .rmdir: Self.request("RMDIR", RmdirRequest.self)
        case .rename: Self.request("RENAME", RenameRequest.self)
        case .link: Self.request("LINK", LinkRequest.self)
        case .open: Self.request("OPEN", OpenRequest.self)
        case .read: Self.request("READ", ReadRequest.self)
        case .write: Self.request("WRITE", WriteRequest.self)
        case .flush: Self.request("FLUSH", FlushRequest.self)
        case .release: Self.request("RELEASE", ReleaseRequest.self)
        case .fsync: Self.request("FSYNC", FsyncRequest.self)
        case .opendir: Self.request("OPENDIR", OpendirRequest.self)
        case .readdir: Self.request("READDIR", ReaddirRequest.self)
        case .releasedir: Self.request("RELEASEDIR", ReleasedirRequest.self)
        case .statfs: Self.request("STATFS", StatfsRequest.self)
        case .setxattr: Self.request("SETXATTR", SetxattrRequest.self)
        case .getxattr: Self.request("GETXATTR", GetxattrRequest.self)
        case .listxattr: Self.request("LISTXATTR", ListxattrRequest.self)
        case .removexattr: Self.request("REMOVEXATTR", RemovexattrRequest.self)
        case .access: Self.request("ACCESS", AccessRequest.self)
        case .create: Self.request("CREATE", CreateRequest.self)
        case .fallocate: Self.request("FALLOCATE", FallocateRequest.self)
        case .copyFileRange: Self.request("COPY_FILE_RANGE", CopyFileRangeRequest.self)
        case .getlk: Self.request("GETLK", GetlkRequest.self)
        case .setlk: Self.request("SETLK", SetlkRequest.self)
        case .cancel: Self.request("CANCEL", CancelRequest.self)
        case .lockTable: Self.request("LOCK_TABLE", LockTableRequest.self)
        case .invalidateDone: Self.request("INVALIDATE_DONE", InvalidateDoneRequest.self)
        case .ping: Self.request("PING", PingRequest.self)
        case .reopen: Self.request("REOPEN", ReopenRequest.self)
        case .writebackGrant: Self.request("WRITEBACK_GRANT", WritebackGrantRequest.self)
        case .grantRelease: Self.request("GRANT_RELEASE", GrantReleaseRequest.self)
        case .auth: Self.request("AUTH", AuthRequest.self)
        case .append: Self.request("APPEND", AppendRequest.self)
        case .prealloc: Self.request("PREALLOC", PreallocRequest.self)
        case .delegatedCreate: Self.request("DELEG_CREATE", DelegatedCreateRequest.self)
        case .delegatedUnlink: Self.request("DELEG_UNLINK", DelegatedUnlinkRequest.self)
        case .delegationReturn: Self.request("DELEG_RETURN", DelegationReturnRequest.self)
        case .opendirList: Self.request("OPENDIR_LIST", OpendirListRequest.self)
        case .invalidate: Self.notice("INVALIDATE", InvalidateNotice.self)
        case .lockGranted: Self.notice("LOCK_GRANTED", LockGrantedNotice.self)
        case .recall: Self.notice("RECALL", RecallNotice.self)
        case .leaseBreak: Self.notice("LEASE_BREAK", LeaseBreakNotice.self)
        case .delegationRecall: Self.notice("DELEG_RECALL", DelegationRecallNotice.self)
        }
    }

    public var description: String { "\(self.descriptor.name)" }
}

import NIOCore

/// What the kernel is told about a node in an entry reply (`struct fuse_entry_param`).
public struct EntryParameters: Sendable, Equatable {
    /// 0 means "no such entry, cache that" (a negative entry).
    public var node: NodeID
    public var attributes: FileAttributes?
    public var attributeTimeout: Double
    public var entryTimeout: Double

    public init(node: NodeID, attributes: FileAttributes?, attributeTimeout: Double, entryTimeout: Double) {
        self.node = node
        self.attributes = attributes
        self.attributeTimeout = attributeTimeout
        self.entryTimeout = entryTimeout
    }
}

/// What the kernel is told about an opened file (`struct fuse_file_info` fields we set).
public struct OpenParameters: Sendable, Equatable {
    public var file: FileHandleID
    /// Bypass the kernel page cache for this open (`-o cache=none`, or O_DIRECT).
    public var directIO: Bool
    /// Keep the kernel's cached pages from an earlier open.
    public var keepCache: Bool
    /// A directory: let the kernel cache its listing (under a lease on its names).
    public var cacheListing: Bool

    public init(file: FileHandleID, directIO: Bool, keepCache: Bool, cacheListing: Bool = false) {
        self.file = file
        self.directIO = directIO
        self.keepCache = keepCache
        self.cacheListing = cacheListing
    }
}

/// One entry of a directory listing as the kernel will see it.
public struct DirectoryItem: Sendable, Equatable {
    public var name: FileName
    /// Where the listing resumes after this entry (the FUSE `off` of the entry).
    public var nextOffset: UInt64
    public var inode: UInt64
    /// `S_IFMT`-style type bits from `d_type`.
    public var mode: UInt32
    /// For readdirplus: the entry to hand the kernel (node 0 for `.`, `..` and entries without one).
    public var entry: EntryParameters?

    public init(name: FileName, nextOffset: UInt64, inode: UInt64, mode: UInt32, entry: EntryParameters?) {
        self.name = name
        self.nextOffset = nextOffset
        self.inode = inode
        self.mode = mode
        self.entry = entry
    }
}

/// The far end of one FUSE request: the libfuse `fuse_reply_*` calls, or a recorder in tests.
///
/// Each method is called at most once per sink, by a reply object (`Replies.swift`) that
/// guarantees it; implementations need no checks of their own. May be called from any thread.
public protocol ReplySink: Sendable {
    func replyError(_ errno: Errno)
    func replyNone()
    func replyEntry(_ entry: EntryParameters)
    func replyCreate(_ entry: EntryParameters, _ open: OpenParameters)
    func replyAttributes(_ attributes: FileAttributes, timeout: Double)
    func replyOpen(_ open: OpenParameters)
    /// Scattered data (a large READ reply that spanned socket reads) goes to the kernel as is.
    func replyData(_ data: ByteSlices)
    func replyBytes(_ bytes: [UInt8])
    func replyWrite(_ count: UInt64)
    func replyXattrSize(_ size: UInt32)
    func replyReadlink(_ target: [UInt8])
    func replyStatfs(_ statistics: StatfsResponse)
    func replyLock(_ lock: GetlkResponse)
    /// `items` all fit in the size the kernel asked for (see `DirectoryPacking`).
    func replyDirectory(_ items: [DirectoryItem], plus: Bool, size: Int)
}

import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The server's storage, behind one boundary: everything the protocol can ask of a filesystem.
///
/// `LocalDirectoryStore` (a directory on this machine) is the embedded default; a later store
/// could keep objects elsewhere (DESIGN.md "Scale-out"). Rules for implementations:
/// - Every method is called on a thread-pool thread, never on an event loop, and may block.
/// - Every method acts with the identity and permissions of `caller`.
/// - Failures are thrown as `Errno`; anything else thrown is answered EIO.
/// - Open files and directories are values of `File` and `Directory`; the server keeps them in
///   the client's session and drops them on RELEASE or when the session ends, which closes them.
/// - No POSIX call belongs outside the store, and a store must not assume one process sees
///   every change.
public protocol BackingStore: Sendable {
    associatedtype File: Sendable
    associatedtype Directory: Sendable

    /// What this store can promise (`callerIdentity`, `persistentHandles`, ...).
    var capabilities: ProtocolVersion.Capabilities { get }
    /// The export's root.
    func rootEntry() throws -> Entry

    func lookup(_ request: LookupRequest, caller: Caller) throws -> Entry
    func getattr(_ request: GetattrRequest, caller: Caller) throws -> FileAttributes
    func setattr(_ request: SetattrRequest, file: File?, caller: Caller) throws -> FileAttributes
    func readlink(_ request: ReadlinkRequest, caller: Caller) throws -> ReadlinkResponse
    func symlink(_ request: SymlinkRequest, caller: Caller) throws -> Entry
    func mknod(_ request: MknodRequest, caller: Caller) throws -> Entry
    func mkdir(_ request: MkdirRequest, caller: Caller) throws -> Entry
    func unlink(_ request: UnlinkRequest, caller: Caller) throws
    func rmdir(_ request: RmdirRequest, caller: Caller) throws
    func rename(_ request: RenameRequest, caller: Caller) throws
    func link(_ request: LinkRequest, caller: Caller) throws -> Entry
    func access(_ request: AccessRequest, caller: Caller) throws
    func statfs(_ request: StatfsRequest, caller: Caller) throws -> StatfsResponse

    func open(_ request: OpenRequest, caller: Caller) throws -> File
    func create(_ request: CreateRequest, caller: Caller) throws -> (Entry, File)
    /// Appends at most `size` bytes read at `offset` to `buffer`; fewer only at end of file.
    func read(_ file: File, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws
    /// Appends to `buffer` what `read` would, only if the store can do it without blocking (the
    /// bytes are in memory), and returns true; returns false, with `buffer` as it was, when it
    /// would have to wait. For the event loop's READ (`RequestRouter+FastRead`). The default
    /// always returns false.
    func readWithoutBlocking(_ file: File, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws -> Bool
    /// Writes all of `data` (appending, for files opened O_APPEND) and returns the count.
    func write(_ file: File, offset: UInt64, data: ByteBuffer, caller: Caller) throws -> UInt64
    /// The file's size now: where an APPEND writes (under the exclusive transaction lock).
    func endOfFile(_ file: File) throws -> UInt64
    /// The attributes of an open file (a WRITE's reply, capability `writeAttributes`).
    func attributes(of file: File) throws -> FileAttributes
    func fsync(_ file: File, dataOnly: Bool) throws
    func fallocate(_ file: File, mode: UInt32, offset: UInt64, length: UInt64, caller: Caller) throws
    func copyFileRange(
        from source: File, at sourceOffset: UInt64, to destination: File, at destinationOffset: UInt64,
        length: UInt64, caller: Caller
    ) throws -> UInt64

    func opendir(_ request: OpendirRequest, caller: Caller) throws -> Directory
    func readdir(
        _ directory: Directory, cookie: UInt64, maximumEntries: Int, plus: Bool, caller: Caller
    ) throws -> ReaddirResponse

    /// The object an open file is, for locking: equal for every open of the same object.
    func objectHandle(of file: File) -> ObjectHandle
    /// The directory an open directory stream lists (what its listing lease names).
    func objectHandle(ofDirectory directory: Directory) -> ObjectHandle
    /// Where an object is, relative to the export root, for people (the lock inspector); nil
    /// when it cannot be told (removed, or never seen by this server process).
    func displayPath(of handle: ObjectHandle) -> [UInt8]?

    func setxattr(_ request: SetxattrRequest, caller: Caller) throws
    func getxattr(_ request: GetxattrRequest, caller: Caller) throws -> XattrResponse
    func listxattr(_ request: ListxattrRequest, caller: Caller) throws -> XattrResponse
    func removexattr(_ request: RemovexattrRequest, caller: Caller) throws

    /// The objects gone for good (last link removed, no file of it open) since the last call, so
    /// the server can drop what it keeps per object. The default reports none.
    func takeRemovedObjects() -> [ObjectHandle]

    /// Whether other servers share this store's objects and its locks must be taken in the store
    /// too (`StoreLockGate`). The default: false, the server's own lock manager is the authority.
    var sharesLocks: Bool { get }
    /// Takes (or, with `.unlock`, releases) a POSIX lock on `file` in the store for `owner`,
    /// without waiting: EAGAIN when a holder elsewhere conflicts. `end` is inclusive (`UInt64.max`:
    /// to the end of the file). The default does nothing.
    func storeLock(_ file: File, owner: UInt64, type: FileLockType, start: UInt64, end: UInt64) throws
    /// Runs `body` (an APPEND's finding of the end of file and its write) excluding the appends to
    /// `file` through other servers sharing the store. The server's transaction lock already
    /// orders its own clients' appends; the default just runs `body`.
    func excludingOtherServersAppends<T>(to file: File, _ body: () throws -> T) throws -> T

    /// Whether the store answers namespace and attribute operations with a few short system
    /// calls on local objects, never waiting on a network or another server: then those requests
    /// run on the connection's event loop (`EventLoopRequests`). The default: false (the pool).
    var answersMetadataOnEventLoop: Bool { get }

    /// Whether the store makes staged objects for delegated creates (ConsistencyContract
    /// "Delegated directories"). The default: false, and the methods below throw ENOSYS.
    var stagesObjects: Bool { get }
    /// Makes `count` empty regular files no client can name, each opened read-write.
    func stage(count: Int) throws -> [(Entry, File)]
    /// Gives staged object `staged` the name `name` in `parent` (never replacing), owned by the
    /// caller, with `mode`; the caller must be able to write and search `parent`.
    func applyStaged(_ staged: ObjectHandle, parent: ObjectHandle, name: FileName, mode: UInt32, caller: Caller) throws
        -> Entry
    /// Removes staged objects never given a name.
    func unstage(_ handles: [ObjectHandle])
}

extension BackingStore {
    public func takeRemovedObjects() -> [ObjectHandle] { [] }
    public func readWithoutBlocking(_ file: File, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws
        -> Bool
    { false }
    public var sharesLocks: Bool { false }
    public func storeLock(_ file: File, owner: UInt64, type: FileLockType, start: UInt64, end: UInt64) throws {}
    public func excludingOtherServersAppends<T>(to file: File, _ body: () throws -> T) throws -> T { try body() }
    public var answersMetadataOnEventLoop: Bool { false }
    public var stagesObjects: Bool { false }
    public func stage(count: Int) throws -> [(Entry, File)] { throw Errno(ENOSYS) }
    public func applyStaged(
        _ staged: ObjectHandle, parent: ObjectHandle, name: FileName, mode: UInt32, caller: Caller
    ) throws -> Entry { throw Errno(ENOSYS) }
    public func unstage(_ handles: [ObjectHandle]) {}
}

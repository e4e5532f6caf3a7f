import CCephFS
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A backing store over CephFS through libcephfs's low-level (`ceph_ll_*`) API: the scale-out
/// store, several `pohmelfs serve --store cephfs` gateways exporting one CephFS (DESIGN.md
/// "Scale-out"; ../shared/CEPHFS-GATEWAY.md).
///
/// **Identity.** Every call runs with a `UserPerm` of the caller (uid, gid, groups), made per
/// call; libcephfs checks permissions and gives new objects the caller's ids, as the local store
/// does by switching the thread's credentials.
///
/// **Handles** are valid on every gateway of the same CephFS and export, and across restarts:
/// `HandleAuthenticator` wraps (fscid, ino, snapid, btime) under the handle key every gateway
/// reads from the cluster (`CephHandleKey`), bound to the export (fscid and the export root's
/// inode number). A gateway resolves one with `ceph_ll_lookup_vino` (one MDS request when the
/// inode is not cached) and compares the birth time, so an inode number reused after removal is
/// ESTALE rather than another file.
///
/// **Confinement.** Objects are reached from handles this export issued plus one validated name
/// component (no `/`, `.`, `..`, nor `.snap`: snapshots are not exported). Symbolic links are
/// never followed on the server.
///
/// **Differences from the local store** (libcephfs 16.2 lacks the calls): rename flags
/// (NOREPLACE, EXCHANGE) are EINVAL; fallocate's ZERO_RANGE is EOPNOTSUPP; copy_file_range is a
/// read/write loop in the gateway; access() checks mode bits only (not ACLs); statfs reports
/// what the monitors know (zeros on a cluster without a manager); the lock inspector shows no
/// paths.
public final class CephFSStore: BackingStore {
    public typealias File = CephFile
    public typealias Directory = CephDirectory

    /// `HandleAuthenticator.KernelHandle.type` of a CephFS handle ("CEPH").
    static let handleType: Int32 = 0x4345_5048
    static let want = UInt32(CEPH_STATX_BASIC_STATS | CEPH_STATX_BTIME)
    static let noFollow = UInt32(AT_SYMLINK_NOFOLLOW)

    let mount: CephMount
    let authenticator: HandleAuthenticator
    let root: CephInode
    let rootHandle: ObjectHandle
    /// Orders reads and writes that cross a RADOS object boundary across gateways.
    let boundaryLocks: CephBoundaryLocks
    /// The export as a path inside the CephFS (`/SUBDIR`).
    public let exportPath: String
    /// The gateway's own identity, for what it does on its own behalf (the handle key).
    static let server = Caller.root

    /// `sharedStore`: other gateways change the same CephFS, so clients must cache nothing this
    /// one could not revoke (ConsistencyContract, "Several servers over one CephFS").
    public var capabilities: ProtocolVersion.Capabilities {
        [.readdirPlus, .callerIdentity, .persistentHandles, .sharedStore]
    }

    /// Mounts the CephFS and opens the export. Throws `ServerError` with an operator-facing
    /// message when the cluster cannot be reached in time, refuses the credentials, or the
    /// export is missing or not a directory.
    public init(configuration: CephConfiguration, export path: String) throws {
        guard path.hasPrefix("/") else {
            throw ServerError(.exportMissing, "export \(path) must be an absolute path inside the CephFS, like /SUBDIR")
        }
        let components = path.split(separator: "/").map(String.init)
        guard !components.contains(where: { $0 == "." || $0 == ".." || $0 == ".snap" }) else {
            throw ServerError(.exportUnsupported, "export \(path) must not contain '.', '..' or '.snap'")
        }
        guard let first = components.first else {
            throw ServerError(
                .exportUnsupported,
                "export / is not supported with --store cephfs: the CephFS root holds /\(CephHandleKey.directory) "
                    + "(the gateways' shared handle key); export a subdirectory such as /export")
        }
        guard first != CephHandleKey.directory else {
            throw ServerError(.exportUnsupported, "export \(path) is inside /\(CephHandleKey.directory), the gateways' private directory")
        }
        let mount = try CephMount(configuration)
        self.mount = mount
        let exportPath = "/" + components.joined(separator: "/")
        self.exportPath = exportPath
        var inode: OpaquePointer?
        var stx = ceph_statx()
        let result = try mount.acting(as: Self.server) { perms in
            ceph_ll_walk(mount.raw, exportPath, &inode, &stx, Self.want, Self.noFollow, perms)
        }
        switch -result {
        case 0: break
        case ENOENT: throw ServerError(.exportMissing, "export \(exportPath) does not exist in the CephFS")
        case ENOTDIR: throw ServerError(.exportNotDirectory, "export \(exportPath) is not a directory")
        default: throw ServerError(.exportUnreadable, "export \(exportPath) cannot be opened: \(Errno(-result))")
        }
        self.root = CephInode(inode!, mount: mount)
        guard UInt32(stx.stx_mode) & 0o170000 == 0o040000 else {
            throw ServerError(.exportNotDirectory, "export \(exportPath) is not a directory")
        }
        let key = try CephHandleKey.load(mount: mount)
        var exportID: [UInt8] = []
        withUnsafeBytes(of: mount.fscid.littleEndian) { exportID.append(contentsOf: $0) }
        withUnsafeBytes(of: stx.stx_ino.littleEndian) { exportID.append(contentsOf: $0) }
        self.authenticator = HandleAuthenticator(key: key, exportID: exportID)
        self.boundaryLocks = try CephBoundaryLocks(mount: mount)
        self.rootHandle = Self.handle(of: stx, fscid: mount.fscid, authenticator: self.authenticator)
        // Modes arrive with the client's umask already applied.
        umask(0)
    }

    /// Ends the gateway's CephFS session (see `CephMount.unmount`); call after the server stopped.
    public func unmount() { self.mount.unmount() }

    public func rootEntry() throws -> Entry {
        Entry(handle: self.rootHandle, attributes: FileAttributes(try self.statx(self.root)))
    }

    public func objectHandle(of file: CephFile) -> ObjectHandle { file.handle }
    public func objectHandle(ofDirectory directory: CephDirectory) -> ObjectHandle { directory.handle }

    /// libcephfs keeps no paths for inodes; the lock inspector shows the handle instead.
    public func displayPath(of handle: ObjectHandle) -> [UInt8]? {
        handle == self.rootHandle ? Array("/".utf8) : nil
    }

    // MARK: - Handles

    static func handle(of stx: ceph_statx, fscid: Int64, authenticator: HandleAuthenticator) -> ObjectHandle {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        withUnsafeBytes(of: fscid.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: stx.stx_ino.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(stx.stx_dev).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: Int64(stx.stx_btime.tv_sec).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(stx.stx_btime.tv_nsec).littleEndian) { bytes.append(contentsOf: $0) }
        return authenticator.wrap(HandleAuthenticator.KernelHandle(type: Self.handleType, bytes: bytes))
    }

    func entry(_ stx: ceph_statx) -> Entry {
        Entry(
            handle: Self.handle(of: stx, fscid: self.mount.fscid, authenticator: self.authenticator),
            attributes: FileAttributes(stx))
    }

    /// The inode a handle names, with its attributes. ESTALE for handles that fail
    /// authentication, name another filesystem or export, or whose inode is gone or reused.
    func resolve(_ handle: ObjectHandle) throws -> (CephInode, ceph_statx) {
        if handle == self.rootHandle { return (self.root, try self.statx(self.root)) }
        guard let kernel = self.authenticator.unwrap(handle), kernel.type == Self.handleType, kernel.bytes.count == 36
        else { throw Errno.stale }
        func word(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(kernel.bytes[at + $1]) << (8 * UInt64($1)) } }
        let fscid = Int64(bitPattern: word(0))
        let ino = word(8)
        let snapid = word(16)
        let birthSeconds = Int64(bitPattern: word(24))
        let birthNanoseconds = (0..<4).reduce(UInt32(0)) { $0 | UInt32(kernel.bytes[32 + $1]) << (8 * UInt32($1)) }
        guard fscid == self.mount.fscid else { throw Errno.stale }
        var raw: OpaquePointer?
        let result = pohmelfs_ceph_lookup_vino(self.mount.raw, ino, snapid, &raw)
        guard result == 0, let raw else { throw result == -ENOMEM ? Errno(ENOMEM) : Errno.stale }
        let inode = CephInode(raw, mount: self.mount)
        let stx = try self.statx(inode)
        guard Int64(stx.stx_btime.tv_sec) == birthSeconds, UInt32(stx.stx_btime.tv_nsec) == birthNanoseconds else {
            throw Errno.stale
        }
        return (inode, stx)
    }

    func resolveDirectory(_ handle: ObjectHandle) throws -> CephInode {
        let (inode, stx) = try self.resolve(handle)
        guard UInt32(stx.stx_mode) & 0o170000 == 0o040000 else { throw Errno.notDirectory }
        return inode
    }

    /// Attributes, coherent across gateways (libcephfs answers from its cache only while its
    /// capabilities cover the attributes).
    func statx(_ inode: CephInode) throws -> ceph_statx {
        var stx = ceph_statx()
        _ = try self.mount.acting(as: Self.server) { perms in
            try cephCall { ceph_ll_getattr(self.mount.raw, inode.raw, &stx, Self.want, Self.noFollow, perms) }
        }
        return stx
    }

    /// Names the store refuses: the protocol's rules plus `.snap`, CephFS's snapshot directory.
    static func validated(_ name: FileName) throws -> FileName {
        if let error = name.validate() { throw error }
        if name.bytes == Array(".snap".utf8) { throw Errno.noEntry }
        return name
    }
}

extension FileAttributes {
    init(_ stx: ceph_statx) {
        self.init(
            inode: stx.stx_ino,
            size: stx.stx_size,
            blocks: stx.stx_blocks,
            accessTime: Timestamp(seconds: Int64(stx.stx_atime.tv_sec), nanoseconds: UInt32(stx.stx_atime.tv_nsec)),
            modificationTime: Timestamp(seconds: Int64(stx.stx_mtime.tv_sec), nanoseconds: UInt32(stx.stx_mtime.tv_nsec)),
            changeTime: Timestamp(seconds: Int64(stx.stx_ctime.tv_sec), nanoseconds: UInt32(stx.stx_ctime.tv_nsec)),
            mode: UInt32(stx.stx_mode),
            linkCount: stx.stx_nlink,
            uid: stx.stx_uid,
            gid: stx.stx_gid,
            rdev: UInt64(stx.stx_rdev),
            blockSize: stx.stx_blksize
        )
    }
}

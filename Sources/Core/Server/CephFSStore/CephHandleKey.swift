import CCephFS

#if canImport(Glibc)
import Glibc
#endif

/// The secret that authenticates the CephFS store's object handles, shared by every gateway of
/// the cluster: kept in the CephFS itself, at `/.pohmelfs/handle-key` (32 random bytes; the
/// directory 0700 and the file 0600, owned by root), beside (never inside) the exports.
///
/// Decision: the key lives in the cluster, not in a local file each gateway must be given, so a
/// new gateway needs nothing but its ceph.conf and cephx key, and a handle issued by any gateway
/// verifies on every other one (a client fails over with the handles it holds). Whoever can
/// read the CephFS root as root can forge handles; that is the same party that can read every
/// file anyway. Exports must therefore be subdirectories that do not contain `/.pohmelfs`
/// (`--export /` is refused), so clients never see the key.
///
/// The first gateway creates the key race-free: it writes a uniquely named temporary file,
/// syncs it, and links it to `handle-key`; a gateway that loses the race (EEXIST) removes its
/// temporary file and reads the winner's key.
enum CephHandleKey {
    static let directory = ".pohmelfs"
    static let name = "handle-key"
    static let length = 32

    static func load(mount: CephMount) throws -> [UInt8] {
        do {
            return try mount.acting(as: .root) { perms in try self.load(mount: mount, perms: perms) }
        } catch let error as Errno {
            throw ServerError(.backingStore, "cannot read or create the handle key /\(directory)/\(name) in the CephFS: \(error)")
        }
    }

    private static func load(mount: CephMount, perms: OpaquePointer) throws -> [UInt8] {
        var rootRaw: OpaquePointer?
        _ = try cephCall { ceph_ll_lookup_root(mount.raw, &rootRaw) }
        let root = CephInode(rootRaw!, mount: mount)
        var stx = ceph_statx()
        var raw: OpaquePointer?
        // Look first: a mkdir of an existing name would still need the root's exclusive caps.
        var result = ceph_ll_lookup(mount.raw, root.raw, directory, &raw, &stx, 0, CephFSStore.noFollow, perms)
        if result == -ENOENT {
            result = ceph_ll_mkdir(mount.raw, root.raw, directory, 0o700, &raw, &stx, 0, 0, perms)
            if result == -EEXIST {
                result = ceph_ll_lookup(mount.raw, root.raw, directory, &raw, &stx, 0, CephFSStore.noFollow, perms)
            }
        }
        _ = try cephCall { result }
        let keyDirectory = CephInode(raw!, mount: mount)
        for _ in 0..<3 {
            if let key = try self.read(mount: mount, directory: keyDirectory, perms: perms) { return key }
            try self.create(mount: mount, directory: keyDirectory, perms: perms)
        }
        throw Errno.io
    }

    /// The key, or nil when there is none yet.
    private static func read(mount: CephMount, directory: CephInode, perms: OpaquePointer) throws -> [UInt8]? {
        var raw: OpaquePointer?
        var stx = ceph_statx()
        let result = ceph_ll_lookup(mount.raw, directory.raw, name, &raw, &stx, 0, CephFSStore.noFollow, perms)
        if result == -ENOENT { return nil }
        _ = try cephCall { result }
        let inode = CephInode(raw!, mount: mount)
        var handle: OpaquePointer?
        _ = try cephCall { ceph_ll_open(mount.raw, inode.raw, O_RDONLY, &handle, perms) }
        defer { ceph_ll_close(mount.raw, handle) }
        var key = [UInt8](repeating: 0, count: length)
        let count = try key.withUnsafeMutableBytes { bytes in
            try cephCall {
                ceph_ll_read(mount.raw, handle, 0, UInt64(length), bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
        }
        guard count == length else {
            throw ServerError(.backingStore, "handle key /\(self.directory)/\(name) in the CephFS is damaged (expected \(length) bytes)")
        }
        return key
    }

    private static func create(mount: CephMount, directory: CephInode, perms: OpaquePointer) throws {
        var generator = SystemRandomNumberGenerator()
        let key = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let temporary = "\(name).\(UInt64.random(in: 0...UInt64.max, using: &generator))"
        var raw: OpaquePointer?
        var handle: OpaquePointer?
        var stx = ceph_statx()
        _ = try cephCall {
            ceph_ll_create(
                mount.raw, directory.raw, temporary, 0o100600, O_WRONLY | O_CREAT | O_EXCL, &raw, &handle, &stx, 0, 0,
                perms)
        }
        let inode = CephInode(raw!, mount: mount)
        defer { _ = ceph_ll_unlink(mount.raw, directory.raw, temporary, perms) }
        let written = key.withUnsafeBytes { bytes in
            ceph_ll_write(mount.raw, handle, 0, UInt64(length), bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
        }
        let synced = ceph_ll_fsync(mount.raw, handle, 0)
        ceph_ll_close(mount.raw, handle)
        guard written == Int32(length) else { throw Errno(written < 0 ? -written : EIO) }
        _ = try cephCall { synced }
        let linked = ceph_ll_link(mount.raw, inode.raw, directory.raw, name, perms)
        guard linked == 0 || linked == -EEXIST else { throw Errno(-linked) }
    }
}

import CCephFS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Makes a READ or WRITE that crosses a RADOS object boundary atomic against every other
/// gateway's (ConsistencyContract, "Several servers over one CephFS"; ../shared/CEPHFS-GATEWAY.md 3(b)).
///
/// **Why only at boundaries.** RADOS applies one op to one object atomically, and libcephfs
/// 16.2 sends a read or a write as one op per object it touches (Client.cc's "simple,
/// non-atomic sync write"). So two ops can interleave visibly only if both touch the same two
/// objects, that is, only if both cross a common boundary; with stripe count 1 the boundaries
/// are the multiples of the object size (other layouts: every stripe unit). Inside one object
/// nothing is needed (`test_no_torn_read_across_gateways_inside_one_rados_object`: 0 torn).
///
/// **How.** The gateways share one lock file in the CephFS, `/.pohmelfs/boundary-locks`
/// (beside the handle key, never inside an export, so users never see these locks and their
/// own fcntl locks stay advisory). Every file gets a window of 2^24 bytes in it, at a position
/// hashed from its inode number; boundary k of the file is byte k of its window. An op that
/// crosses boundaries k1...k2 takes one fcntl lock on bytes k1...k2 of the window through the
/// MDS (`ceph_ll_setlk`): shared for a read, exclusive for a write; ops crossing a common
/// boundary therefore exclude each other on every gateway, and ops that stay inside one object
/// take nothing. One lock per op, so no lock order and no deadlock; a hash collision only
/// serializes two files' crossing ops. Each op is its own lock owner (a counter), so two
/// crossing reads of one gateway hold their shared locks independently; the gateway's own
/// clients are ordered first by its transaction locks, as with the local store.
///
/// **Cost:** two MDS requests (lock, unlock) per crossing op, none for the rest; a 1 MiB op
/// aligned to 1 MiB never crosses a 4 MiB boundary. The lock call sleeps in the MDS until it
/// is granted (it waits only for another crossing op to finish; a dead gateway's locks go with
/// its CephFS session: reset at once by a peer with `--gateway-id`, else session_timeout).
final class CephBoundaryLocks: @unchecked Sendable {
    static let name = "boundary-locks"
    /// Bytes of the lock file per file: boundary numbers are taken modulo this.
    static let window: UInt64 = 1 << 24
    /// Windows: positions stay below 2^62 (fcntl offsets are signed 64-bit).
    static let windows: UInt64 = 1 << 38

    let mount: CephMount
    let inode: CephInode
    let handle: OpaquePointer
    private let nextOwner = Atomic<UInt64>(1)

    /// Opens (creating it if needed, 0600 root's) the shared lock file in `/.pohmelfs`.
    init(mount: CephMount) throws {
        self.mount = mount
        var raw: OpaquePointer?
        var handle: OpaquePointer?
        do {
            try mount.acting(as: .root) { perms in
                var directory: OpaquePointer?
                var stx = ceph_statx()
                _ = try cephCall {
                    ceph_ll_walk(mount.raw, "/\(CephHandleKey.directory)", &directory, &stx, 0, CephFSStore.noFollow, perms)
                }
                let parent = CephInode(directory!, mount: mount)
                _ = try cephCall {
                    ceph_ll_create(
                        mount.raw, parent.raw, Self.name, 0o100600, O_RDWR | O_CREAT, &raw, &handle, &stx, 0, 0, perms)
                }
            }
        } catch let error as Errno {
            throw ServerError(
                .backingStore, "cannot open the gateways' lock file /\(CephHandleKey.directory)/\(Self.name) in the CephFS: \(error)")
        }
        self.inode = CephInode(raw!, mount: mount)
        self.handle = handle!
    }

    deinit { ceph_ll_close(self.mount.raw, self.handle) }

    /// The boundaries `[offset, offset + length)` crosses, as (first, last) boundary numbers
    /// (boundary k lies between byte k·unit−1 and k·unit); nil when it stays inside one unit.
    /// `unit`: the object size with stripe count 1, else the stripe unit.
    static func crossed(offset: UInt64, length: UInt64, unit: UInt64) -> (first: UInt64, last: UInt64)? {
        guard length > 1, unit > 0 else { return nil }
        let last = offset.addingReportingOverflow(length - 1)
        guard !last.overflow else { return nil }
        let firstUnit = offset / unit
        let lastUnit = last.partialValue / unit
        return firstUnit == lastUnit ? nil : (firstUnit + 1, lastUnit)
    }

    /// The byte range of the lock file standing for boundaries `first...last` of inode `ino`:
    /// its window, or the whole window when the range wraps around it.
    static func lockRange(ino: UInt64, first: UInt64, last: UInt64) -> (start: UInt64, length: UInt64) {
        let hasher = SipHash24(k0: 0x626f_756e_6461_7279, k1: 0x6c6f_636b_7320_7631)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: ino.littleEndian) { bytes.append(contentsOf: $0) }
        let base = (hasher.hash(bytes) % self.windows) * self.window
        let low = first % self.window
        let high = last % self.window
        guard last - first < self.window, low <= high else { return (base, self.window) }
        return (base + low, high - low + 1)
    }

    /// The unit between boundaries of `file`'s layout.
    func unit(of file: CephInode) -> UInt64 {
        var layout = ceph_file_layout()
        _ = ceph_ll_file_layout(self.mount.raw, file.raw, &layout)
        return UInt64(layout.fl_stripe_count <= 1 ? layout.fl_object_size : layout.fl_stripe_unit)
    }

    /// Runs `body` holding the boundary lock of `[offset, offset + length)` of `file` when
    /// that range crosses a boundary (exclusive for writers), else just runs it.
    func around<T>(_ file: CephFile, offset: UInt64, length: Int, exclusive: Bool, _ body: () throws -> T) throws -> T {
        guard let (first, last) = Self.crossed(offset: offset, length: UInt64(length), unit: self.unit(of: file.inode))
        else {
            return try body()
        }
        let (start, count) = Self.lockRange(ino: file.ino, first: first, last: last)
        let owner = self.nextOwner.add(1, ordering: .relaxed).newValue
        try self.lock(exclusive ? F_WRLCK : F_RDLCK, start: start, length: count, owner: owner)
        defer { try? self.lock(F_UNLCK, start: start, length: count, owner: owner) }
        return try body()
    }

    /// Runs `body` holding `file`'s append slot exclusively: byte 0 of its window, which no
    /// boundary uses (boundary 0 is the file's start). APPENDs through every gateway take it
    /// around finding the end of file and writing there, so two gateways never append at the
    /// same end (ConsistencyContract, "Several servers over one CephFS").
    func appending<T>(_ file: CephFile, _ body: () throws -> T) throws -> T {
        let (start, _) = Self.lockRange(ino: file.ino, first: 0, last: 0)
        let owner = self.nextOwner.add(1, ordering: .relaxed).newValue
        try self.lock(F_WRLCK, start: start, length: 1, owner: owner)
        defer { try? self.lock(F_UNLCK, start: start, length: 1, owner: owner) }
        return try body()
    }

    private func lock(_ type: Int32, start: UInt64, length: UInt64, owner: UInt64) throws {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(start)
        lock.l_len = off_t(length)
        while true {
            let result = ceph_ll_setlk(self.mount.raw, self.handle, &lock, owner, type == F_UNLCK ? 0 : 1)
            if result == -EINTR { continue }
            _ = try cephCall { result }
            return
        }
    }
}

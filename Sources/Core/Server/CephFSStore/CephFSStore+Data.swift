import CCephFS
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// An open regular file of a `CephFSStore`: a libcephfs `Fh`, closed when the last reference goes.
public final class CephFile: @unchecked Sendable {
    let handle: ObjectHandle
    let inode: CephInode
    /// The CephFS inode number (keys the file's boundary locks, `CephBoundaryLocks`).
    let ino: UInt64
    let raw: OpaquePointer
    /// Opened for writing: a truncation through it needs no further permission check.
    let writable: Bool

    init(handle: ObjectHandle, inode: CephInode, ino: UInt64, raw: OpaquePointer, writable: Bool) {
        self.handle = handle
        self.inode = inode
        self.ino = ino
        self.raw = raw
        self.writable = writable
    }

    deinit { ceph_ll_close(self.inode.mount.raw, self.raw) }
}

/// Opening, reading, writing and syncing files.
extension CephFSStore {
    /// `open(2)` flags passed on; O_DIRECT, O_NONBLOCK and O_NOATIME mean nothing to libcephfs.
    static let permittedOpenFlags: Int32 = O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC

    public func open(_ request: OpenRequest, caller: Caller) throws -> CephFile {
        let (inode, stx) = try self.resolve(request.handle)
        let type = UInt32(stx.stx_mode) & 0o170000
        guard type != 0o040000 else { throw Errno.isDirectory }
        guard type == 0o100000 else { throw type == 0o120000 ? Errno.loop : Errno.permission }
        // As the local store: a removed file opened through a name cached earlier is ESTALE, so
        // the client's kernel looks the name up again (see LocalDirectoryStore.open).
        let resolvedJustNow = request.flags & OpenRequest.resolvedJustNow != 0
        guard resolvedJustNow || stx.stx_nlink > 0 else { throw Errno.stale }
        let flags = Int32(bitPattern: request.flags) & Self.permittedOpenFlags
        var raw: OpaquePointer?
        _ = try self.mount.acting(as: caller) { perms in
            try cephCall { ceph_ll_open(self.mount.raw, inode.raw, flags, &raw, perms) }
        }
        return CephFile(handle: request.handle, inode: inode, ino: stx.stx_ino, raw: raw!, writable: flags & O_ACCMODE != O_RDONLY)
    }

    public func create(_ request: CreateRequest, caller: Caller) throws -> (Entry, CephFile) {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        let flags = (Int32(bitPattern: request.flags) & (Self.permittedOpenFlags | O_EXCL)) | O_CREAT
        var raw: OpaquePointer?
        var fh: OpaquePointer?
        var stx = ceph_statx()
        _ = try self.mount.acting(as: caller) { perms in
            try withCName(name) { cName in
                try cephCall {
                    ceph_ll_create(
                        self.mount.raw, parent.raw, cName, mode_t(0o100000 | (request.mode & 0o7777)), flags, &raw, &fh,
                        &stx, Self.want, 0, perms)
                }
            }
        }
        let inode = CephInode(raw!, mount: self.mount)
        let entry = self.entry(stx)
        return (entry, CephFile(handle: entry.handle, inode: inode, ino: stx.stx_ino, raw: fh!, writable: flags & O_ACCMODE != O_RDONLY))
    }

    /// A read crossing a RADOS object boundary holds that boundary's shared lock across gateways
    /// (`CephBoundaryLocks`).
    public func read(_ file: CephFile, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws {
        guard offset <= UInt64(Int64.max) else { throw Errno.invalid }
        try self.boundaryLocks.around(file, offset: offset, length: size, exclusive: false) {
            try self.readUnlocked(file, offset: offset, size: size, into: &buffer)
        }
    }

    private func readUnlocked(_ file: CephFile, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws {
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { target in
            var done = 0
            while done < size {
                let count = try cephCall {
                    ceph_ll_read(
                        self.mount.raw, file.raw, Int64(offset) + Int64(done), UInt64(size - done),
                        (target.baseAddress! + done).assumingMemoryBound(to: CChar.self))
                }
                if count == 0 { break }
                done += Int(count)
            }
            return done
        }
    }

    /// A write crossing a RADOS object boundary holds that boundary's exclusive lock across
    /// gateways (`CephBoundaryLocks`).
    public func write(_ file: CephFile, offset: UInt64, data: ByteBuffer, caller: Caller) throws -> UInt64 {
        guard offset <= UInt64(Int64.max) else { throw Errno.invalid }
        return try self.boundaryLocks.around(file, offset: offset, length: data.readableBytes, exclusive: true) {
            try self.writeUnlocked(file, offset: offset, data: data)
        }
    }

    private func writeUnlocked(_ file: CephFile, offset: UInt64, data: ByteBuffer) throws -> UInt64 {
        try data.withUnsafeReadableBytes { source in
            var done = 0
            while done < source.count {
                let count = try cephCall {
                    ceph_ll_write(
                        self.mount.raw, file.raw, Int64(offset) + Int64(done), UInt64(source.count - done),
                        (source.baseAddress! + done).assumingMemoryBound(to: CChar.self))
                }
                guard count > 0 else { throw Errno.io }
                done += Int(count)
            }
            return UInt64(done)
        }
    }

    /// APPENDs through every gateway exclude each other (`CephBoundaryLocks.appending`).
    public func excludingOtherServersAppends<T>(to file: CephFile, _ body: () throws -> T) throws -> T {
        try self.boundaryLocks.appending(file, body)
    }

    public func endOfFile(_ file: CephFile) throws -> UInt64 {
        try self.statx(file.inode).stx_size
    }

    public func attributes(of file: CephFile) throws -> FileAttributes {
        FileAttributes(try self.statx(file.inode))
    }

    public func fsync(_ file: CephFile, dataOnly: Bool) throws {
        _ = try cephCall { ceph_ll_fsync(self.mount.raw, file.raw, dataOnly ? 1 : 0) }
    }

    /// Modes 0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE are libcephfs's own. ZERO_RANGE (with or
    /// without KEEP_SIZE) is a hole punched over the range and, without KEEP_SIZE, the size
    /// raised to its end: the same result as Linux's, though not one atomic step. Others are
    /// EOPNOTSUPP.
    public func fallocate(_ file: CephFile, mode: UInt32, offset: UInt64, length: UInt64, caller: Caller) throws {
        let keepSize: UInt32 = 0x01
        let punchHole: UInt32 = 0x02
        let zeroRange: UInt32 = 0x10
        guard offset <= UInt64(Int64.max), length <= UInt64(Int64.max) else { throw Errno.invalid }
        switch mode {
        case 0, keepSize, punchHole | keepSize:
            _ = try cephCall { ceph_ll_fallocate(self.mount.raw, file.raw, Int32(mode), Int64(offset), Int64(length)) }
        case zeroRange, zeroRange | keepSize:
            guard length > 0 else { throw Errno.invalid }
            guard file.writable else { throw Errno.badFileHandle }
            _ = try cephCall {
                ceph_ll_fallocate(self.mount.raw, file.raw, Int32(punchHole | keepSize), Int64(offset), Int64(length))
            }
            let end = offset + length
            if mode & keepSize == 0, try self.statx(file.inode).stx_size < end {
                var stx = ceph_statx()
                stx.stx_size = end
                _ = try self.mount.acting(as: Self.server) { perms in
                    try cephCall { ceph_ll_setattr(self.mount.raw, file.inode.raw, &stx, CEPH_SETATTR_SIZE, perms) }
                }
            }
        default:
            throw Errno.notSupported
        }
    }

    /// libcephfs 16.2 has no copy_file_range: the gateway copies, at most 16 MiB per call
    /// (a short count, as copy_file_range(2) may return; the caller continues).
    public func copyFileRange(
        from source: CephFile, at sourceOffset: UInt64, to destination: CephFile, at destinationOffset: UInt64,
        length: UInt64, caller: Caller
    ) throws -> UInt64 {
        guard sourceOffset <= UInt64(Int64.max), destinationOffset <= UInt64(Int64.max) else { throw Errno.invalid }
        let chunk = 1 << 20
        var remaining = min(length, 16 << 20)
        var copied: UInt64 = 0
        var buffer = ByteBufferAllocator().buffer(capacity: chunk)
        while remaining > 0 {
            buffer.clear()
            try self.read(source, offset: sourceOffset + copied, size: Int(min(remaining, UInt64(chunk))), into: &buffer)
            if buffer.readableBytes == 0 { break }
            let written = try self.write(destination, offset: destinationOffset + copied, data: buffer, caller: caller)
            copied += written
            remaining -= written
        }
        return copied
    }

    // MARK: - Locks shared with every CephFS client

    /// Other gateways (and every CephFS client) share the files: locks go to the MDS too.
    public var sharesLocks: Bool { true }

    /// `ceph_ll_setlk` through this open file, never sleeping (`StoreLockGate` retries).
    public func storeLock(_ file: CephFile, owner: UInt64, type: FileLockType, start: UInt64, end: UInt64) throws {
        guard start <= UInt64(Int64.max) else { throw Errno.invalid }
        var lock = flock()
        switch type {
        case .read: lock.l_type = Int16(F_RDLCK)
        case .write: lock.l_type = Int16(F_WRLCK)
        case .unlock: lock.l_type = Int16(F_UNLCK)
        }
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(start)
        lock.l_len = end == UInt64.max || end - start >= UInt64(Int64.max) ? 0 : off_t(end - start + 1)
        let result = ceph_ll_setlk(self.mount.raw, file.raw, &lock, owner, 0)
        if result == -EWOULDBLOCK || result == -EAGAIN { throw Errno(EAGAIN) }
        _ = try cephCall { result }
    }
}

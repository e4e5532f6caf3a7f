import CCephFS

#if canImport(Glibc)
import Glibc
#endif

/// Names and attributes: lookup, creation, removal, rename, links, setattr, access, statfs.
extension CephFSStore {
    public func lookup(_ request: LookupRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        return try self.child(parent, name, caller: caller)
    }

    /// `name` in `parent`, looked up as `caller` (search permission on `parent`).
    func child(_ parent: CephInode, _ name: FileName, caller: Caller) throws -> Entry {
        var raw: OpaquePointer?
        var stx = ceph_statx()
        _ = try self.mount.acting(as: caller) { perms in
            try withCName(name) { cName in
                try cephCall { ceph_ll_lookup(self.mount.raw, parent.raw, cName, &raw, &stx, Self.want, Self.noFollow, perms) }
            }
        }
        _ = CephInode(raw!, mount: self.mount)
        return self.entry(stx)
    }

    public func getattr(_ request: GetattrRequest, caller: Caller) throws -> FileAttributes {
        FileAttributes(try self.resolve(request.handle).1)
    }

    public func setattr(_ request: SetattrRequest, file: CephFile?, caller: Caller) throws -> FileAttributes {
        let (inode, current) = try self.resolve(request.handle)
        // utimensat(2): setting times to now needs ownership or write permission; libcephfs
        // 16.2 lets any caller do it.
        if request.accessTime == .now || request.modificationTime == .now, caller.uid != 0, caller.uid != current.stx_uid {
            try self.access(AccessRequest(handle: request.handle, mask: UInt32(W_OK)), caller: caller)
        }
        var stx = ceph_statx()
        var mask: Int32 = 0
        if let mode = request.mode {
            stx.stx_mode = UInt16(mode & 0o7777)
            mask |= CEPH_SETATTR_MODE
        }
        if let uid = request.uid {
            stx.stx_uid = uid
            mask |= CEPH_SETATTR_UID
        }
        if let gid = request.gid {
            stx.stx_gid = gid
            mask |= CEPH_SETATTR_GID
        }
        switch request.accessTime {
        case .now: mask |= CEPH_SETATTR_ATIME_NOW
        case .set(let time):
            stx.stx_atime = timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
            mask |= CEPH_SETATTR_ATIME
        case nil: break
        }
        switch request.modificationTime {
        case .now: mask |= CEPH_SETATTR_MTIME_NOW
        case .set(let time):
            stx.stx_mtime = timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
            mask |= CEPH_SETATTR_MTIME
        case nil: break
        }
        if let size = request.size {
            guard size <= UInt64(Int64.max) else { throw Errno(EFBIG) }
            stx.stx_size = size
            // ftruncate(2) of a file open for writing needs no permission on the file now (its
            // mode may have changed since the open): the open was the check.
            if let file, file.writable {
                var sizeOnly = ceph_statx()
                sizeOnly.stx_size = size
                _ = try self.mount.acting(as: Self.server) { perms in
                    try cephCall { ceph_ll_setattr(self.mount.raw, inode.raw, &sizeOnly, CEPH_SETATTR_SIZE, perms) }
                }
            } else {
                mask |= CEPH_SETATTR_SIZE
            }
        }
        if mask != 0 {
            _ = try self.mount.acting(as: caller) { perms in
                try cephCall { ceph_ll_setattr(self.mount.raw, inode.raw, &stx, mask, perms) }
            }
        }
        return FileAttributes(try self.statx(inode))
    }

    public func readlink(_ request: ReadlinkRequest, caller: Caller) throws -> ReadlinkResponse {
        let (inode, stx) = try self.resolve(request.handle)
        guard UInt32(stx.stx_mode) & 0o170000 == 0o120000 else { throw Errno.invalid }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = try self.mount.acting(as: caller) { perms in
            try cephCall { ceph_ll_readlink(self.mount.raw, inode.raw, &buffer, buffer.count - 1, perms) }
        }
        return ReadlinkResponse(target: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) })
    }

    public func symlink(_ request: SymlinkRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        guard !request.target.isEmpty, !request.target.contains(0) else { throw Errno.invalid }
        let parent = try self.resolveDirectory(request.parent)
        return try self.creating { raw, stx in
            try self.mount.acting(as: caller) { perms in
                try withCName(name) { cName in
                    try withCName(FileName(bytes: request.target)) { cTarget in
                        try cephCall {
                            ceph_ll_symlink(self.mount.raw, parent.raw, cName, cTarget, &raw, &stx, Self.want, 0, perms)
                        }
                    }
                }
            }
        }
    }

    public func mknod(_ request: MknodRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        let type = request.mode & 0o170000
        guard [0o100000, 0o010000, 0o140000, 0o020000, 0o060000].contains(type) else { throw Errno.invalid }
        return try self.creating { raw, stx in
            try self.mount.acting(as: caller) { perms in
                try withCName(name) { cName in
                    try cephCall {
                        ceph_ll_mknod(
                            self.mount.raw, parent.raw, cName, mode_t(request.mode), dev_t(request.rdev), &raw, &stx,
                            Self.want, 0, perms)
                    }
                }
            }
        }
    }

    public func mkdir(_ request: MkdirRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        return try self.creating { raw, stx in
            try self.mount.acting(as: caller) { perms in
                try withCName(name) { cName in
                    try cephCall {
                        ceph_ll_mkdir(
                            self.mount.raw, parent.raw, cName, mode_t(request.mode & 0o7777), &raw, &stx, Self.want, 0,
                            perms)
                    }
                }
            }
        }
    }

    /// Runs a creating call that fills an `Inode` reference and attributes; puts the reference.
    private func creating(_ call: (inout OpaquePointer?, inout ceph_statx) throws -> Int32) throws -> Entry {
        var raw: OpaquePointer?
        var stx = ceph_statx()
        _ = try call(&raw, &stx)
        if let raw { _ = CephInode(raw, mount: self.mount) }
        return self.entry(stx)
    }

    public func unlink(_ request: UnlinkRequest, caller: Caller) throws {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        _ = try self.mount.acting(as: caller) { perms in
            try withCName(name) { cName in try cephCall { ceph_ll_unlink(self.mount.raw, parent.raw, cName, perms) } }
        }
    }

    public func rmdir(_ request: RmdirRequest, caller: Caller) throws {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        _ = try self.mount.acting(as: caller) { perms in
            try withCName(name) { cName in try cephCall { ceph_ll_rmdir(self.mount.raw, parent.raw, cName, perms) } }
        }
    }

    /// Rename flags (RENAME_NOREPLACE, RENAME_EXCHANGE) are EINVAL: libcephfs 16.2 has no
    /// renameat2, and emulating NOREPLACE with a lookup first would not be atomic.
    public func rename(_ request: RenameRequest, caller: Caller) throws {
        let oldName = try Self.validated(request.oldName)
        let newName = try Self.validated(request.newName)
        guard request.flags.isEmpty else { throw Errno.invalid }
        let oldParent = try self.resolveDirectory(request.oldParent)
        let newParent = try self.resolveDirectory(request.newParent)
        _ = try self.mount.acting(as: caller) { perms in
            try withCName(oldName) { cOld in
                try withCName(newName) { cNew in
                    try cephCall { ceph_ll_rename(self.mount.raw, oldParent.raw, cOld, newParent.raw, cNew, perms) }
                }
            }
        }
    }

    public func link(_ request: LinkRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let (target, stx) = try self.resolve(request.target)
        let newParent = try self.resolveDirectory(request.newParent)
        guard UInt32(stx.stx_mode) & 0o170000 != 0o040000 else { throw Errno.permission }
        _ = try self.mount.acting(as: caller) { perms in
            try withCName(name) { cName in try cephCall { ceph_ll_link(self.mount.raw, target.raw, newParent.raw, cName, perms) } }
        }
        return try self.child(newParent, name, caller: caller)
    }

    /// The mode bits decide (libcephfs 16.2 has no access call); ACL entries are not consulted.
    public func access(_ request: AccessRequest, caller: Caller) throws {
        let (_, stx) = try self.resolve(request.handle)
        guard request.mask & ~UInt32(R_OK | W_OK | X_OK) == 0 else { throw Errno.invalid }
        let mode = UInt32(stx.stx_mode)
        let wanted = request.mask & 0o7
        if caller.uid == 0 {
            // Root may read and write anything; execute needs some execute bit (or a directory).
            guard wanted & UInt32(X_OK) == 0 || mode & 0o170000 == 0o040000 || mode & 0o111 != 0 else {
                throw Errno.accessDenied
            }
            return
        }
        let granted: UInt32
        if caller.uid == stx.stx_uid {
            granted = (mode >> 6) & 0o7
        } else if caller.gid == stx.stx_gid || caller.groups.contains(stx.stx_gid) {
            granted = (mode >> 3) & 0o7
        } else {
            granted = mode & 0o7
        }
        guard wanted & ~granted == 0 else { throw Errno.accessDenied }
    }

    public func statfs(_ request: StatfsRequest, caller: Caller) throws -> StatfsResponse {
        let (inode, _) = try self.resolve(request.handle)
        var st = statvfs()
        _ = try cephCall { ceph_ll_statfs(self.mount.raw, inode.raw, &st) }
        return StatfsResponse(
            blockSize: UInt64(st.f_bsize), fragmentSize: UInt64(st.f_frsize), blocks: UInt64(st.f_blocks),
            freeBlocks: UInt64(st.f_bfree), availableBlocks: UInt64(st.f_bavail), files: UInt64(st.f_files),
            freeFiles: UInt64(st.f_ffree), maximumNameLength: 255)
    }
}

import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Names and attributes: lookup, creation, removal, rename, links, setattr, access, statfs.
extension LocalDirectoryStore {
    public func lookup(_ request: LookupRequest, caller: Caller) throws -> Entry {
        guard request.name != StagingArea.name else { throw Errno.noEntry }
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        return try ThreadIdentity.acting(as: caller) { try self.openChild(parent, name) }
    }

    public func getattr(_ request: GetattrRequest, caller: Caller) throws -> FileAttributes {
        let object = try self.resolve(request.handle)
        return FileAttributes(try statDescriptor(object.fd))
    }

    public func setattr(_ request: SetattrRequest, file: LocalFile?, caller: Caller) throws -> FileAttributes {
        let object = try self.resolve(request.handle)
        return try ThreadIdentity.acting(as: caller) {
            if let mode = request.mode {
                let path = try object.reopenPath()
                _ = try systemCall { chmod(path, mode_t(mode & 0o7777)) }
            }
            if request.uid != nil || request.gid != nil {
                _ = try systemCall {
                    fchownat(
                        object.fd, "", request.uid ?? UInt32.max, request.gid ?? UInt32.max, POHMELFS_AT_EMPTY_PATH)
                }
            }
            if let size = request.size {
                guard size <= UInt64(Int64.max) else { throw Errno(EFBIG) }
                if let file {
                    _ = try systemCall { ftruncate(file.fd, off_t(size)) }
                } else {
                    let path = try object.reopenPath()
                    _ = try systemCall { truncate(path, off_t(size)) }
                }
            }
            if request.accessTime != nil || request.modificationTime != nil {
                var times = [Self.timespec(request.accessTime), Self.timespec(request.modificationTime)]
                if object.isSymbolicLink {
                    // A link has no procfs path to reopen (it would be followed): set its own
                    // times through its O_PATH descriptor, as lutimes/utimensat(AT_SYMLINK_NOFOLLOW).
                    _ = try systemCall {
                        utimensat(object.fd, "", &times, POHMELFS_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
                    }
                } else {
                    let path = try object.reopenPath()
                    _ = try systemCall { utimensat(AT_FDCWD, path, &times, 0) }
                }
            }
            return FileAttributes(try statDescriptor(object.fd))
        }
    }

    private static func timespec(_ update: TimeUpdate?) -> Glibc.timespec {
        switch update {
        case nil: return Glibc.timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 2))  // UTIME_OMIT
        case .now: return Glibc.timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 1))  // UTIME_NOW
        case .set(let time): return Glibc.timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
        }
    }

    public func readlink(_ request: ReadlinkRequest, caller: Caller) throws -> ReadlinkResponse {
        let object = try self.resolve(request.handle)
        guard object.isSymbolicLink else { throw Errno.invalid }
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = try ThreadIdentity.acting(as: caller) {
            try systemCall {
                buffer.withUnsafeMutableBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { readlinkat(object.fd, "", $0.baseAddress!, $0.count) }
                }
            }
        }
        return ReadlinkResponse(target: Array(buffer.prefix(length)))
    }

    public func symlink(_ request: SymlinkRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        guard !request.target.isEmpty, !request.target.contains(0) else { throw Errno.invalid }
        let parent = try self.resolveDirectory(request.parent)
        return try ThreadIdentity.acting(as: caller) {
            _ = try withCName(name) { cName in
                try (request.target + [0]).withUnsafeBufferPointer { raw in
                    try raw.withMemoryRebound(to: CChar.self) { cTarget in
                        try systemCall { symlinkat(cTarget.baseAddress!, parent.fd, cName) }
                    }
                }
            }
            return try self.openChild(parent, name)
        }
    }

    public func mknod(_ request: MknodRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        let type = request.mode & 0o170000
        guard [0o100000, 0o010000, 0o140000, 0o020000, 0o060000].contains(type) else { throw Errno.invalid }
        return try ThreadIdentity.acting(as: caller) {
            _ = try withCName(name) { cName in
                try systemCall { mknodat(parent.fd, cName, mode_t(request.mode), dev_t(request.rdev)) }
            }
            return try self.openChild(parent, name)
        }
    }

    public func mkdir(_ request: MkdirRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        return try ThreadIdentity.acting(as: caller) {
            _ = try withCName(name) { cName in
                try systemCall { mkdirat(parent.fd, cName, mode_t(request.mode & 0o7777)) }
            }
            return try self.openChild(parent, name)
        }
    }

    public func unlink(_ request: UnlinkRequest, caller: Caller) throws {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        try ThreadIdentity.acting(as: caller) {
            let victim = self.objectAbout(toLoseName: name, in: parent)
            _ = try withCName(name) { cName in try systemCall { unlinkat(parent.fd, cName, 0) } }
            self.lostName(victim)
        }
    }

    public func rmdir(_ request: RmdirRequest, caller: Caller) throws {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        try ThreadIdentity.acting(as: caller) {
            let victim = self.objectAbout(toLoseName: name, in: parent)
            _ = try withCName(name) { cName in try systemCall { unlinkat(parent.fd, cName, AT_REMOVEDIR) } }
            self.lostName(victim)
        }
    }

    public func rename(_ request: RenameRequest, caller: Caller) throws {
        let oldName = try Self.validated(request.oldName)
        let newName = try Self.validated(request.newName)
        // Invalid combinations (EXCHANGE with NOREPLACE or WHITEOUT) are the kernel's EINVAL.
        guard RenameRequest.Flags.known.isSuperset(of: request.flags) else { throw Errno.invalid }
        let oldParent = try self.resolveDirectory(request.oldParent)
        let newParent = try self.resolveDirectory(request.newParent)
        try ThreadIdentity.acting(as: caller) {
            // A rename that replaces its target takes the target's name (an exchange takes none).
            let replaced =
                request.flags.contains(.exchange) || request.flags.contains(.noReplace)
                ? nil : self.objectAbout(toLoseName: newName, in: newParent)
            _ = try withCName(oldName) { cOld in
                try withCName(newName) { cNew in
                    try systemCall {
                        pohmelfs_renameat2(oldParent.fd, cOld, newParent.fd, cNew, request.flags.rawValue)
                    }
                }
            }
            self.lostName(replaced)
        }
    }

    public func link(_ request: LinkRequest, caller: Caller) throws -> Entry {
        let name = try Self.validated(request.name)
        let target = try self.resolve(request.target)
        let newParent = try self.resolveDirectory(request.newParent)
        guard !target.isDirectory else { throw Errno.permission }
        return try ThreadIdentity.acting(as: caller) {
            _ = try withCName(name) { cName in
                if target.isSymbolicLink {
                    // A link has no procfs path to reopen (it would be followed): link its O_PATH
                    // descriptor itself (AT_EMPTY_PATH), which needs CAP_DAC_READ_SEARCH, raised
                    // for this call only, after checking as the caller what creating a name in
                    // the directory needs (write and search), as linkat(2) would.
                    try systemCall { faccessat(newParent.fd, "", W_OK | X_OK, POHMELFS_AT_EMPTY_PATH | AT_EACCESS) }
                    try systemCall { pohmelfs_linkat_empty_path(target.fd, newParent.fd, cName) }
                } else {
                    let path = try target.reopenPath()
                    try systemCall { linkat(AT_FDCWD, path, newParent.fd, cName, AT_SYMLINK_FOLLOW) }
                }
            }
            return try self.openChild(newParent, name)
        }
    }

    public func access(_ request: AccessRequest, caller: Caller) throws {
        let object = try self.resolve(request.handle)
        guard request.mask & ~UInt32(R_OK | W_OK | X_OK) == 0 else { throw Errno.invalid }
        try ThreadIdentity.acting(as: caller) {
            _ = try systemCall { faccessat(object.fd, "", Int32(request.mask), POHMELFS_AT_EMPTY_PATH | AT_EACCESS) }
        }
    }

    public func statfs(_ request: StatfsRequest, caller: Caller) throws -> StatfsResponse {
        _ = try self.resolve(request.handle)
        var st = statvfs()
        _ = try systemCall { fstatvfs(self.exportDescriptor.rawValue, &st) }
        return StatfsResponse(
            blockSize: UInt64(st.f_bsize), fragmentSize: UInt64(st.f_frsize), blocks: UInt64(st.f_blocks),
            freeBlocks: UInt64(st.f_bfree), availableBlocks: UInt64(st.f_bavail), files: UInt64(st.f_files),
            freeFiles: UInt64(st.f_ffree), maximumNameLength: UInt64(st.f_namemax))
    }
}

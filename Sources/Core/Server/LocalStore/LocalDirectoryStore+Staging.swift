import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Staged objects for delegated creates (`StagingArea`): made as the server, given to a name
/// in a delegated directory as the caller (DELEG_CREATE), removed when unused.
extension LocalDirectoryStore {
    public var stagesObjects: Bool { ThreadIdentity.canSwitch }

    /// The staging directory, made (mode 0700, the server's) when missing and `making`.
    func stagingDirectory(making: Bool = true) throws -> FileDescriptor {
        try withCName(StagingArea.name) { cName in
            if making, mkdirat(self.exportDescriptor.rawValue, cName, 0o700) != 0, errno != EEXIST { throw Errno.current }
            return FileDescriptor(
                try systemCall { openat(self.exportDescriptor.rawValue, cName, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) })
        }
    }

    public func stage(count: Int) throws -> [(Entry, LocalFile)] {
        let directory = try self.stagingDirectory()
        var made: [(Entry, LocalFile)] = []
        for _ in 0..<count {
            let name = self.staging.nextName()
            let file: (Entry, LocalFile) = try ThreadIdentity.asServer {
                let fd = try withCName(name) { cName in
                    try systemCall { openat(directory.rawValue, cName, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
                }
                let descriptor = FileDescriptor(fd)
                let pathFD = try systemCall { Glibc.open(descriptor.procPath, POHMELFS_O_PATH | O_CLOEXEC) }
                // The staging directory is a fixed directory right below the export root.
                let (entry, object) = try self.register(FileDescriptor(pathFD), beneath: self.root)
                return (entry, LocalFile(descriptor: descriptor, object: object, store: self))
            }
            self.staging.staged(file.0.handle, as: name)
            made.append(file)
        }
        return made
    }

    /// Gives staged object `staged` the name `name` in `parent` (never replacing: EEXIST), owned
    /// by the caller (the group of a set-group-id parent), with `mode`; its times become now
    /// unless they were set since it was staged. The caller must be able to write and search
    /// `parent`.
    public func applyStaged(
        _ staged: ObjectHandle, parent: ObjectHandle, name: FileName, mode: UInt32, caller: Caller
    ) throws -> Entry {
        let name = try Self.validated(name)
        let parent = try self.resolveDirectory(parent)
        guard let stagedName = self.staging.take(staged) else { throw Errno.stale }
        do {
            try ThreadIdentity.acting(as: caller) {
                _ = try systemCall { faccessat(parent.fd, "", W_OK | X_OK, POHMELFS_AT_EMPTY_PATH | AT_EACCESS) }
            }
            let object = try self.resolve(staged)
            let before = try statDescriptor(object.fd)
            let untouched = before.st_mtim.tv_sec == before.st_ctim.tv_sec && before.st_mtim.tv_nsec == before.st_ctim.tv_nsec
            let directory = try self.stagingDirectory()
            try ThreadIdentity.asServer {
                _ = try withCName(stagedName) { cOld in
                    try withCName(name) { cNew in
                        try systemCall {
                            pohmelfs_renameat2(directory.rawValue, cOld, parent.fd, cNew, RenameRequest.Flags.noReplace.rawValue)
                        }
                    }
                }
            }
            let parentStat = try statDescriptor(parent.fd)
            let gid = parentStat.st_mode & S_ISGID != 0 ? UInt32(parentStat.st_gid) : caller.gid
            try ThreadIdentity.asServer {
                _ = try systemCall { fchownat(object.fd, "", caller.uid, gid, POHMELFS_AT_EMPTY_PATH) }
                let path = try object.reopenPath()
                _ = try systemCall { chmod(path, mode_t(mode & 0o7777)) }
                if untouched {
                    var now = [
                        timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 1)), timespec(tv_sec: 0, tv_nsec: Int((1 << 30) - 1)),
                    ]
                    _ = try systemCall { utimensat(AT_FDCWD, path, &now, 0) }
                }
            }
            return Entry(handle: staged, attributes: FileAttributes(try statDescriptor(object.fd)))
        } catch {
            // Still in the staging directory (or in place, if only the owner failed: then it is
            // the caller's name now, as a failed chown after a create would leave it).
            if (try? self.isStaged(stagedName)) == true { self.staging.staged(staged, as: stagedName) }
            throw error
        }
    }

    private func isStaged(_ name: FileName) throws -> Bool {
        let directory = try self.stagingDirectory()
        var st = stat()
        return withCName(name) { fstatat(directory.rawValue, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
    }

    /// Removes staged objects never given a name (their session ended).
    public func unstage(_ handles: [ObjectHandle]) {
        guard !handles.isEmpty, let directory = try? self.stagingDirectory() else { return }
        for handle in handles {
            guard let name = self.staging.take(handle) else { continue }
            _ = try? ThreadIdentity.asServer { withCName(name) { unlinkat(directory.rawValue, $0, 0) } }
        }
    }

    /// Removes everything staged by an earlier run of the server (at start), if it staged any.
    func clearStaging() {
        guard let directory = try? self.stagingDirectory(making: false), let stream = fdopendir(dup(directory.rawValue)) else { return }
        defer { closedir(stream) }
        while let raw = Glibc.readdir(stream) {
            let name = withUnsafeBytes(of: raw.pointee.d_name) { bytes in
                FileName(bytes: Array(bytes.prefix(while: { $0 != 0 })))
            }
            guard name.validate() == nil else { continue }
            _ = withCName(name) { unlinkat(directory.rawValue, $0, 0) }
        }
    }
}

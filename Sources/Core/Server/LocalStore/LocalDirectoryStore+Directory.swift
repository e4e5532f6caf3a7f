import CLinux
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open directory stream of a `LocalDirectoryStore`.
///
/// Locking: `stream` is protected by its mutex, held for the whole of one READDIR because the
/// position of a `DIR` stream is the state being protected; requests on one directory handle are
/// serialized, requests on different handles are not.
public final class LocalDirectory: Sendable {
    struct Stream: ~Copyable, @unchecked Sendable {
        let pointer: OpaquePointer
        /// Cookie of the next entry `readdir` returns (0 at the start).
        var position: UInt64 = 0
        deinit { closedir(self.pointer) }
    }

    let stream: Mutex<Stream>
    let object: ObjectReference

    init(pointer: OpaquePointer, object: ObjectReference) {
        self.stream = Mutex(Stream(pointer: pointer))
        self.object = object
    }
}

/// Listing directories.
extension LocalDirectoryStore {
    public func opendir(_ request: OpendirRequest, caller: Caller) throws -> LocalDirectory {
        let object = try self.resolveDirectory(request.handle)
        return try ThreadIdentity.acting(as: caller) {
            let path = try object.reopenPath()
            let fd = try systemCall { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            guard let pointer = fdopendir(fd) else {
                let error = Errno.current
                close(fd)
                throw error
            }
            return LocalDirectory(pointer: pointer, object: object)
        }
    }

    public func readdir(
        _ directory: LocalDirectory, cookie: UInt64, maximumEntries: Int, plus: Bool, caller: Caller
    ) throws -> ReaddirResponse {
        try ThreadIdentity.acting(as: caller) {
            try directory.stream.withLock { stream in
                if cookie != stream.position {
                    if cookie == 0 { rewinddir(stream.pointer) } else { seekdir(stream.pointer, Int(bitPattern: UInt(cookie))) }
                    stream.position = cookie
                }
                var entries: [DirectoryEntry] = []
                let fd = dirfd(stream.pointer)
                while entries.count < maximumEntries {
                    errno = 0
                    guard let raw = Glibc.readdir(stream.pointer) else {
                        if errno != 0 { throw Errno.current }
                        return ReaddirResponse(entries: entries, isEnd: true)
                    }
                    let name = withUnsafeBytes(of: raw.pointee.d_name) { bytes in
                        FileName(bytes: Array(bytes.prefix(while: { $0 != 0 })))
                    }
                    let next = UInt64(bitPattern: Int64(raw.pointee.d_off))
                    stream.position = next
                    if name == StagingArea.name { continue }
                    var entry: Entry? = nil
                    if plus && name.validate() == nil {
                        entry = try? self.describeChild(directoryFD: fd, name: name)
                    }
                    entries.append(
                        DirectoryEntry(
                            name: name, cookie: next, inode: UInt64(raw.pointee.d_ino), type: raw.pointee.d_type,
                            entry: entry))
                }
                return ReaddirResponse(entries: entries, isEnd: false)
            }
        }
    }

    /// Handle and attributes of `name` in an open directory, for readdirplus. Does not open the
    /// child: its handle is registered when it is first used.
    private func describeChild(directoryFD: Int32, name: FileName) throws -> Entry {
        var st = stat()
        _ = try withCName(name) { cName in try systemCall { fstatat(directoryFD, cName, &st, AT_SYMLINK_NOFOLLOW) } }
        var mountID: Int32 = 0
        let kernel = try withCName(name) { cName in
            try Self.kernelHandle(of: directoryFD, name: cName, flags: 0, mountID: &mountID)
        }
        guard mountID == self.exportMountID else { throw Errno.crossDevice }
        return Entry(handle: self.authenticator.wrap(kernel), attributes: FileAttributes(st))
    }
}

import CLinux
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open regular file of a `LocalDirectoryStore`: closed when the last reference goes. The
/// store counts it open while it lives, so a removed file's object is dropped (and its space
/// freed) only after its last close.
public final class LocalFile: Sendable {
    let descriptor: FileDescriptor
    let object: ObjectReference
    private let store: LocalDirectoryStore
    /// Whether the file's filesystem keeps it in memory: 0 not asked yet, 1 yes, 2 no
    /// (`isMemoryBacked`).
    private let memoryBacked = Atomic<UInt8>(0)

    init(descriptor: FileDescriptor, object: ObjectReference, store: LocalDirectoryStore) {
        self.descriptor = descriptor
        self.object = object
        self.store = store
        store.objects.opened(object.handle)
    }

    deinit {
        self.store.fileClosed(self.object)
    }

    var fd: Int32 { self.descriptor.rawValue }

    /// True when the file lives on tmpfs or ramfs, asked of the kernel (`fstatfs`) at the first
    /// call. Such a file cannot promise RWF_NOWAIT (tmpfs answers EOPNOTSUPP on this kernel),
    /// but reading it never waits for a disk: only for swap, when its pages were swapped out.
    var isMemoryBacked: Bool {
        switch self.memoryBacked.load(ordering: .relaxed) {
        case 1: return true
        case 2: return false
        default:
            let inMemory = pohmelfs_is_memory_filesystem(self.fd) == 1
            self.memoryBacked.store(inMemory ? 1 : 2, ordering: .relaxed)
            return inMemory
        }
    }
}

/// Opening, reading, writing and syncing files.
extension LocalDirectoryStore {
    /// `open(2)` flags a client may ask for. O_DIRECT is dropped: the client's direct I/O means
    /// "bypass the client cache", and the server's buffers are not aligned for the disk's.
    static let permittedOpenFlags: Int32 =
        O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC | POHMELFS_O_NOATIME | O_NONBLOCK

    public func open(_ request: OpenRequest, caller: Caller) throws -> LocalFile {
        let object = try self.resolve(request.handle)
        guard !object.isDirectory else { throw Errno.isDirectory }
        guard object.fileType == 0o100000 else { throw object.isSymbolicLink ? Errno.loop : Errno.permission }
        // A file another client has removed stays reachable here while the object table keeps
        // its descriptor. Opened through a name the client cached earlier, it is ESTALE: the
        // client's kernel looks the name up again (LOOKUP_REVAL) and opens or creates whatever
        // the name is now, instead of writing into the removed file. Opened right after the
        // client looked the name up for this open (`resolvedJustNow`), it is opened: the
        // removal came between the lookup and the open, as it can on a local filesystem.
        let resolvedJustNow = request.flags & OpenRequest.resolvedJustNow != 0
        guard try resolvedJustNow || statDescriptor(object.fd).st_nlink > 0 else { throw Errno.stale }
        let flags = Int32(bitPattern: request.flags) & Self.permittedOpenFlags
        return try ThreadIdentity.acting(as: caller) {
            // No O_NOFOLLOW: the last component of /proc/self/fd/N is itself a (magic) link, so
            // O_NOFOLLOW would fail every open with ELOOP. The object is known to be a regular
            // file and the magic link reopens exactly that inode, so nothing else is followed.
            let path = try object.reopenPath()
            let fd = try systemCall { Glibc.open(path, flags | O_CLOEXEC) }
            return LocalFile(descriptor: FileDescriptor(fd), object: object, store: self)
        }
    }

    public func create(_ request: CreateRequest, caller: Caller) throws -> (Entry, LocalFile) {
        let name = try Self.validated(request.name)
        let parent = try self.resolveDirectory(request.parent)
        let flags = (Int32(bitPattern: request.flags) & (Self.permittedOpenFlags | O_EXCL)) | O_CREAT | O_NOFOLLOW
            | O_CLOEXEC
        // A full disk may be the space of files removed a moment ago (`reclaimingSpace`).
        return try self.reclaimingSpace {
            try ThreadIdentity.acting(as: caller) {
                let fd = try withCName(name) { cName in
                    try systemCall {
                        pohmelfs_openat2(parent.fd, cName, UInt64(flags), UInt64(request.mode & 0o7777), Self.confinedResolution)
                    }
                }
                let descriptor = FileDescriptor(fd)
                let pathFD = try systemCall { Glibc.open(descriptor.procPath, POHMELFS_O_PATH | O_CLOEXEC) }
                let (entry, object) = try self.register(FileDescriptor(pathFD), beneath: parent)
                return (entry, LocalFile(descriptor: descriptor, object: object, store: self))
            }
        }
    }

    public func read(_ file: LocalFile, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws {
        guard offset <= UInt64(Int64.max) else { throw Errno.invalid }
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { target in
            var done = 0
            while done < size {
                let count = try systemCall {
                    pread(file.fd, target.baseAddress! + done, size - done, off_t(offset) + off_t(done))
                }
                if count == 0 { break }
                done += count
            }
            return done
        }
    }

    public func write(_ file: LocalFile, offset: UInt64, data: ByteBuffer, caller: Caller) throws -> UInt64 {
        guard offset <= UInt64(Int64.max) else { throw Errno.invalid }
        // As the caller: writing clears set-user-id bits only for callers without CAP_FSETID.
        // A full disk may be the space of files removed a moment ago (`reclaimingSpace`).
        return try self.reclaimingSpace {
            try ThreadIdentity.acting(as: caller) {
                try data.withUnsafeReadableBytes { source in
                    var done = 0
                    while done < source.count {
                        let count = try systemCall {
                            pwrite(file.fd, source.baseAddress! + done, source.count - done, off_t(offset) + off_t(done))
                        }
                        done += count
                    }
                    return UInt64(done)
                }
            }
        }
    }

    public func endOfFile(_ file: LocalFile) throws -> UInt64 {
        UInt64(max(try statDescriptor(file.fd).st_size, 0))
    }

    public func attributes(of file: LocalFile) throws -> FileAttributes {
        FileAttributes(try statDescriptor(file.fd))
    }

    public func fsync(_ file: LocalFile, dataOnly: Bool) throws {
        _ = try systemCall { dataOnly ? fdatasync(file.fd) : Glibc.fsync(file.fd) }
    }

    public func fallocate(_ file: LocalFile, mode: UInt32, offset: UInt64, length: UInt64, caller: Caller) throws {
        let known = UInt32(POHMELFS_FALLOC_FL_KEEP_SIZE | POHMELFS_FALLOC_FL_PUNCH_HOLE | POHMELFS_FALLOC_FL_ZERO_RANGE)
        guard mode & ~known == 0 else { throw Errno.notSupported }
        guard offset <= UInt64(Int64.max), length <= UInt64(Int64.max) else { throw Errno.invalid }
        try self.reclaimingSpace {
            try ThreadIdentity.acting(as: caller) {
                _ = try systemCall { pohmelfs_fallocate(file.fd, Int32(mode), Int64(offset), Int64(length)) }
            }
        }
    }

    public func copyFileRange(
        from source: LocalFile, at sourceOffset: UInt64, to destination: LocalFile, at destinationOffset: UInt64,
        length: UInt64, caller: Caller
    ) throws -> UInt64 {
        guard sourceOffset <= UInt64(Int64.max), destinationOffset <= UInt64(Int64.max) else { throw Errno.invalid }
        var inOffset = Int64(sourceOffset)
        var outOffset = Int64(destinationOffset)
        let count = try ThreadIdentity.acting(as: caller) {
            try systemCall {
                pohmelfs_copy_file_range(
                    source.fd, &inOffset, destination.fd, &outOffset, Int(min(length, UInt64(Int.max))), 0)
            }
        }
        return UInt64(count)
    }
}

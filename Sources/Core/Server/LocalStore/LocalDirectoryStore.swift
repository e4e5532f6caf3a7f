import CLinux
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The embedded backing store: a directory on this machine, confined and acting as the caller.
///
/// **Handles.** An object's handle is its kernel file handle (`name_to_handle_at(2)`: inode plus
/// generation on ext4, xfs, btrfs and tmpfs) wrapped by `HandleAuthenticator`. Chosen over a
/// server-side path table because it needs no state to survive a restart and cannot go stale on
/// rename, and over bare inode numbers because the generation catches reuse. Reopening a handle
/// after a restart (`open_by_handle_at(2)`) needs CAP_DAC_READ_SEARCH, so `persistentHandles`
/// is advertised only when the server runs as root; otherwise handles live as long as the
/// server's object table holds them.
///
/// **Confinement.** Every object is reached from a handle the server issued (a forged one fails
/// authentication) plus at most one validated name component, opened with `openat2(2)` and
/// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV` and `O_NOFOLLOW`. Names with `/`,
/// NUL, `.` or `..` are refused before any system call. Symbolic links are never followed on the
/// server; clients resolve them, as NFS clients do. Mount points below the export are not crossed
/// (EXDEV).
///
/// **Identity.** Operations run under `ThreadIdentity.acting(as:)`, so the kernel's own
/// permission checks and ownership rules apply to the caller.
public final class LocalDirectoryStore: BackingStore {
    public typealias File = LocalFile
    public typealias Directory = LocalDirectory

    /// The export root, opened readable (not O_PATH): it is also the `mount_fd` of every
    /// `open_by_handle_at(2)`, which refuses an O_PATH descriptor with EBADF.
    let exportDescriptor: FileDescriptor
    let exportMountID: Int32
    let authenticator: HandleAuthenticator
    let objects: ObjectTable
    let root: ObjectReference
    public let exportPath: String
    /// The export root as procfs names it (`readlink` of its descriptor): every object a handle
    /// may name has a path beneath it (`LocalDirectoryStore+Confinement`).
    let exportProcPath: [UInt8]
    /// Objects gone for good, until the server takes them (`takeRemovedObjects`).
    let removedObjects = Mutex<[ObjectHandle]>([])
    /// Objects whose last link went, kept reachable for `removalGrace` (`LocalDirectoryStore+Removal`).
    let removalsInGrace = Mutex<Set<ObjectHandle>>([])
    /// Ends those graces, one timer for all (`GraceTimer`).
    let removalGraces = GraceTimer<ObjectHandle>(grace: LocalDirectoryStore.removalGrace)
    /// How many times a full disk ended the graces (`reclaimingSpace`), under the lock that lets
    /// one write at a time end them: a write that found the disk full while another write was
    /// ending them waits for it, then tries again too.
    let spaceReclaims = Mutex<UInt64>(0)
    /// Files made in advance for delegated creates (`LocalDirectoryStore+Staging`).
    let staging = StagingArea()

    /// Namespace and attribute operations are a few system calls on this machine's filesystem:
    /// they run on the event loop (`EventLoopRequests`).
    public var answersMetadataOnEventLoop: Bool { true }

    public var capabilities: ProtocolVersion.Capabilities {
        var capabilities: ProtocolVersion.Capabilities = [.readdirPlus]
        if ThreadIdentity.canSwitch { capabilities.formUnion([.callerIdentity, .persistentHandles]) }
        return capabilities
    }

    /// Opens the export. Throws `ServerError` with an operator-facing message when the export is
    /// missing, not a directory, unreadable, or on a filesystem without file handles, or when the
    /// state directory (which keeps the handle key) cannot be used. `handleKey`: the key shared
    /// by several servers of the export (`HandleKey.loadOrCreate`); nil: the state directory's own.
    public init(
        export path: String, stateDirectory: String, handleKey: [UInt8]? = nil, objectTableCapacity: Int = 16384
    ) throws {
        // Not O_PATH: this is also the mount descriptor of every open_by_handle_at, which
        // refuses an O_PATH one with EBADF (only handles already in the object table would work).
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 {
            let error = errno
            switch error {
            case ENOENT: throw ServerError(.exportMissing, "export \(path) does not exist")
            case ENOTDIR: throw ServerError(.exportNotDirectory, "export \(path) is not a directory")
            default: throw ServerError(.exportUnreadable, "export \(path) cannot be opened: \(Errno(error))")
            }
        }
        let exportDescriptor = FileDescriptor(fd)
        guard Glibc.access(path, R_OK | X_OK) == 0 else {
            throw ServerError(.exportUnreadable, "export \(path) is not readable: \(Errno.current)")
        }
        var mountID: Int32 = 0
        let rootKernelHandle: HandleAuthenticator.KernelHandle
        do {
            rootKernelHandle = try Self.kernelHandle(of: fd, name: "", flags: POHMELFS_AT_EMPTY_PATH, mountID: &mountID)
        } catch {
            throw ServerError(
                .exportUnsupported, "export \(path) is on a filesystem without file handles: \(error)", cause: error)
        }
        let key = try handleKey ?? HandleKeyFile.load(stateDirectory: stateDirectory)
        // Modes arrive with the client's umask already applied; the server's must not apply again.
        umask(0)

        if let resolved = realpath(path, nil) {
            self.exportPath = String(cString: resolved)
            free(resolved)
        } else {
            self.exportPath = path
        }
        self.exportDescriptor = exportDescriptor
        self.exportProcPath = Self.procPath(of: exportDescriptor) ?? Array(self.exportPath.utf8)
        self.exportMountID = mountID
        self.authenticator = HandleAuthenticator(key: key, exportID: rootKernelHandle.bytes)
        self.objects = ObjectTable(capacity: objectTableCapacity)
        let st = try statDescriptor(fd)
        self.root = ObjectReference(
            descriptor: exportDescriptor,
            handle: self.authenticator.wrap(rootKernelHandle),
            fileType: UInt32(st.st_mode) & 0o170000
        )
        self.objects.insert(self.root)
        self.removalGraces.onExpiry { [weak self] handle in self?.endGrace(of: handle) }
        self.clearStaging()
    }

    public func rootEntry() throws -> Entry {
        Entry(handle: self.root.handle, attributes: FileAttributes(try statDescriptor(self.root.fd)))
    }

    public func objectHandle(of file: LocalFile) -> ObjectHandle { file.object.handle }
    public func objectHandle(ofDirectory directory: LocalDirectory) -> ObjectHandle { directory.object.handle }

    /// The object's current path below the export, from procfs (`/proc/self/fd/N` names the
    /// path the descriptor's file has now, even after renames).
    public func displayPath(of handle: ObjectHandle) -> [UInt8]? {
        guard let object = try? self.resolve(handle) else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = Glibc.readlink(object.descriptor.procPath, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let path = Array(buffer.prefix(length).map { UInt8(bitPattern: $0) })
        let root = Array(self.exportPath.utf8)
        guard path.starts(with: root) else { return path }
        let relative = Array(path.dropFirst(root.count))
        return relative.isEmpty ? Array("/".utf8) : relative
    }

    // MARK: - Handles

    /// `name` is the raw NUL-terminated name (a `String` literal converts implicitly): names are
    /// bytes, and a round trip through `String` would repair non-UTF-8 names into other names.
    static func kernelHandle(
        of fd: Int32, name: UnsafePointer<CChar>, flags: Int32, mountID: inout Int32
    ) throws -> HandleAuthenticator.KernelHandle {
        var bytes = [UInt8](repeating: 0, count: HandleAuthenticator.maximumKernelHandle)
        var type: Int32 = 0
        let length = try systemCall {
            bytes.withUnsafeMutableBufferPointer { buffer in
                pohmelfs_name_to_handle_at(fd, name, flags, buffer.baseAddress, UInt32(buffer.count), &type, &mountID)
            }
        }
        return HandleAuthenticator.KernelHandle(type: type, bytes: Array(bytes.prefix(Int(length))))
    }

    /// The object a handle names. ESTALE for handles that fail authentication or whose object
    /// is gone.
    func resolve(_ handle: ObjectHandle) throws -> ObjectReference {
        if let reference = self.objects.lookup(handle) { return try self.confined(reference) }
        guard let kernel = self.authenticator.unwrap(handle), ThreadIdentity.canSwitch else { throw Errno.stale }
        let fd = try ThreadIdentity.asServer {
            try systemCall {
                kernel.bytes.withUnsafeBufferPointer { bytes in
                    pohmelfs_open_by_handle_at(
                        self.exportDescriptor.rawValue, bytes.baseAddress, UInt32(bytes.count), kernel.type,
                        POHMELFS_O_PATH | O_CLOEXEC)
                }
            }
        }
        let descriptor = FileDescriptor(fd)
        let st = try statDescriptor(fd)
        let reference = ObjectReference(descriptor: descriptor, handle: handle, fileType: UInt32(st.st_mode) & 0o170000)
        self.objects.insert(reference)
        return try self.confined(reference)
    }

    func resolveDirectory(_ handle: ObjectHandle) throws -> ObjectReference {
        let reference = try self.resolve(handle)
        guard reference.isDirectory else { throw Errno.notDirectory }
        return reference
    }

    /// Registers an O_PATH descriptor as an object and describes it: an object just opened or
    /// made beneath `parent` without leaving it (RESOLVE_BENEATH), so it is beneath the export
    /// for as long as `parent` is known to be (`inheritsConfinement`). Returns the registered
    /// reference too, so a caller that uses the object at once need not look it up again.
    func register(_ descriptor: FileDescriptor, beneath parent: ObjectReference) throws -> (Entry, ObjectReference) {
        var mountID: Int32 = 0
        let kernel = try Self.kernelHandle(
            of: descriptor.rawValue, name: "", flags: POHMELFS_AT_EMPTY_PATH, mountID: &mountID)
        guard mountID == self.exportMountID else { throw Errno.crossDevice }
        let st = try statDescriptor(descriptor.rawValue)
        let handle = self.authenticator.wrap(kernel)
        let reference = ObjectReference(descriptor: descriptor, handle: handle, fileType: UInt32(st.st_mode) & 0o170000)
        self.inheritsConfinement(reference, from: parent)
        self.objects.insert(reference)
        return (Entry(handle: handle, attributes: FileAttributes(st)), reference)
    }

    /// Opens `name` in `parent` (O_PATH, never following a link, never leaving the export).
    func openChild(_ parent: ObjectReference, _ name: FileName) throws -> Entry {
        let fd = try withCName(name) { cName in
            try systemCall {
                pohmelfs_openat2(
                    parent.fd, cName, UInt64(POHMELFS_O_PATH | O_NOFOLLOW | O_CLOEXEC), 0, Self.confinedResolution)
            }
        }
        return try self.register(FileDescriptor(fd), beneath: parent).0
    }

    static let confinedResolution = UInt64(
        POHMELFS_RESOLVE_BENEATH | POHMELFS_RESOLVE_NO_MAGICLINKS | POHMELFS_RESOLVE_NO_XDEV)

    static func validated(_ name: FileName) throws -> FileName {
        if let error = name.validate() { throw error }
        // Reserved for the hidden staging directory (`StagingArea`).
        if name == StagingArea.name { throw Errno.permission }
        return name
    }
}

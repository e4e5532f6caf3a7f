import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// A handle is used only while its object is beneath the export (NFS's `subtree_check`).
///
/// Names are confined when they are resolved (`openat2` with `RESOLVE_BENEATH` from a parent the
/// client holds), but a handle names an object directly: a directory an administrator moves out
/// of the export keeps its inode, so a client holding its handle could go on reading, creating
/// and renaming there (and across, into the export) — also after a restart, since handles are
/// persistent. So every resolution of a handle checks where its object is now: the path procfs
/// gives for its descriptor (`/proc/self/fd/N`, which the kernel builds from the dentry chain and
/// keeps true across renames) must be the export root or lie beneath it; otherwise ESTALE, as
/// NFS answers for a handle outside the export.
///
/// Cost: a `readlink(2)` of `/proc/self/fd/N` costs about 8 µs here (against 0.7 µs for an
/// `fstat`), too much for every request, so a verdict is kept per object for
/// `confinementRecheck` (1 s): a handle whose object was moved out of the export stops working
/// within a second, and at once for a handle first resolved after the move (a restarted server,
/// an object not in the table). An object with several hard links is judged by the one name the
/// kernel reports for it.
/// A path longer than PATH_MAX (which procfs cannot report) is judged by walking ".." up from
/// the directory to the export root.
extension LocalDirectoryStore {
    /// How long a verdict that an object is beneath the export is trusted.
    static let confinementRecheck: Int64 = 1_000_000_000

    /// `reference` if its object is still beneath the export; ESTALE otherwise.
    func confined(_ reference: ObjectReference) throws -> ObjectReference {
        guard reference !== self.root else { return reference }
        let now = Self.monotonicNanoseconds()
        if reference.confinedUntil.load(ordering: .relaxed) > now { return reference }
        // On the stack and compared with memcmp: this runs for every handle a request names.
        let verdict = withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PATH_MAX) + 1) { buffer -> Bool? in
            let length = Glibc.readlink(reference.procPath, buffer.baseAddress!, buffer.count - 1)
            // A path longer than PATH_MAX cannot be told this way (ENAMETOOLONG).
            guard length > 0 else { return errno == ENAMETOOLONG ? nil : false }
            return self.exportProcPath.withUnsafeBytes { root in
                Self.path(UnsafeRawBufferPointer(start: buffer.baseAddress!, count: length), isBeneath: root)
            }
        }
        let beneath = verdict ?? self.isBeneathByWalkingUp(reference)
        guard beneath else { throw Errno.stale }
        reference.confinedUntil.store(now + Self.confinementRecheck, ordering: .relaxed)
        return reference
    }

    /// `child` was just opened or made beneath `parent` with a resolution that cannot leave it
    /// (`confinedResolution`), after `parent` itself was checked: it is beneath the export for
    /// as long as that verdict on `parent` holds, and no longer (a directory moved out still
    /// stops working, with everything found in it, within a second). Without this every object
    /// a LOOKUP or CREATE put in the table (a new reference each time) paid a `readlink` at its
    /// next use: one per file of a `tar -xf` (8,895 of them).
    func inheritsConfinement(_ child: ObjectReference, from parent: ObjectReference) {
        let until =
            parent === self.root
            ? Self.monotonicNanoseconds() + Self.confinementRecheck : parent.confinedUntil.load(ordering: .relaxed)
        child.confinedUntil.store(until, ordering: .relaxed)
    }

    /// For objects whose path is too long for procfs: a directory is beneath the export when
    /// following ".." from it reaches the export root before the filesystem's root. A
    /// non-directory that deep is judged by the directories it is reached through (every
    /// create, lookup and rename names one, and those are checked).
    func isBeneathByWalkingUp(_ reference: ObjectReference) -> Bool {
        guard reference.isDirectory, let root = try? statDescriptor(self.exportDescriptor.rawValue) else {
            return !reference.isDirectory
        }
        var current = FileDescriptor(dup(reference.fd))
        for _ in 0..<65536 {
            guard current.rawValue >= 0, let here = try? statDescriptor(current.rawValue) else { return false }
            if here.st_dev == root.st_dev && here.st_ino == root.st_ino { return true }
            let parentFD = openat(current.rawValue, "..", POHMELFS_O_PATH | O_DIRECTORY | O_CLOEXEC)
            guard parentFD >= 0 else { return false }
            let parent = FileDescriptor(parentFD)
            guard let above = try? statDescriptor(parent.rawValue) else { return false }
            // ".." of a filesystem's root is itself: the walk left the export without meeting it.
            if above.st_dev == here.st_dev && above.st_ino == here.st_ino { return false }
            current = parent
        }
        return false
    }

    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Whether `path` is `root` or lies beneath it (`root` "/" contains every path).
    static func path(_ path: UnsafeRawBufferPointer, isBeneath root: UnsafeRawBufferPointer) -> Bool {
        guard path.count >= root.count, memcmp(path.baseAddress!, root.baseAddress!, root.count) == 0 else {
            return false
        }
        if (root.count == 1 && root[0] == UInt8(ascii: "/")) || path.count == root.count { return true }
        return path[root.count] == UInt8(ascii: "/")
    }

    /// The path procfs names for `descriptor`, as bytes; nil when it cannot be read.
    static func procPath(of descriptor: FileDescriptor) -> [UInt8]? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = Glibc.readlink(descriptor.procPath, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return buffer.prefix(length).map { UInt8(bitPattern: $0) }
    }
}

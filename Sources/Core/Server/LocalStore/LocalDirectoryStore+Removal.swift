import CLinux
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Removed objects leave the object table as soon as nothing needs them, so their space returns.
///
/// The object table holds an O_PATH descriptor per object, and a descriptor keeps its inode (and
/// a file's blocks) alive. After UNLINK, RMDIR, or a RENAME that replaced its target, the store
/// checks the object that lost a name: when its last link is gone and no client has it open it
/// is dropped at once; when a client still has it open (POSIX: an unlinked open file keeps
/// working), it is dropped after that file's last close. Either way its handle is kept for the
/// server to take (`takeRemovedObjects`), so per-file state elsewhere (cache grants) goes too.
extension LocalDirectoryStore {
    /// At most this many removed handles wait to be taken; older ones are dropped (the server
    /// takes them after every UNLINK, RMDIR, RENAME and RELEASE, so only a burst of session
    /// expiries with nothing else happening could reach it).
    static let maximumPendingRemovals = 4096

    public func takeRemovedObjects() -> [ObjectHandle] {
        self.removedObjects.withLock { removed in
            defer { removed = [] }
            return removed
        }
    }

    /// The object `name` in `parent` names now, opened O_PATH before an operation that may
    /// remove it; nil when there is none (the operation will fail or create it).
    func objectAbout(toLoseName name: FileName, in parent: ObjectReference) -> FileDescriptor? {
        let fd = try? withCName(name) { cName in
            try systemCall {
                pohmelfs_openat2(
                    parent.fd, cName, UInt64(POHMELFS_O_PATH | O_NOFOLLOW | O_CLOEXEC), 0, Self.confinedResolution)
            }
        }
        return fd.map(FileDescriptor.init)
    }

    /// After an operation that took a name from `victim`: drops it when that was its last link.
    func lostName(_ victim: FileDescriptor?) {
        guard let victim, let st = try? statDescriptor(victim.rawValue), st.st_nlink == 0 else { return }
        var mountID: Int32 = 0
        guard
            let kernel = try? Self.kernelHandle(
                of: victim.rawValue, name: "", flags: POHMELFS_AT_EMPTY_PATH, mountID: &mountID)
        else { return }
        self.forgetIfUnused(self.authenticator.wrap(kernel))
    }

    /// The last open file of `object` closed: drop it if its last link is gone meanwhile.
    func fileClosed(_ object: ObjectReference) {
        guard self.objects.closed(object.handle), let st = try? statDescriptor(object.fd), st.st_nlink == 0 else {
            return
        }
        self.forgetIfUnused(object.handle)
    }

    private func forgetIfUnused(_ handle: ObjectHandle) {
        guard self.objects.removeUnlessOpen(handle) else { return }
        self.removedObjects.withLock { removed in
            if removed.count >= Self.maximumPendingRemovals { removed.removeFirst(removed.count / 2) }
            removed.append(handle)
        }
    }
}

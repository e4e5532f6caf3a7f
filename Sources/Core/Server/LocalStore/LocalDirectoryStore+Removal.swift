import CLinux
import Dispatch
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Removed objects leave the object table as soon as nothing needs them, so their space returns.
///
/// The object table holds an O_PATH descriptor per object, and a descriptor keeps its inode (and
/// a file's blocks) alive. After UNLINK, RMDIR, or a RENAME that replaced its target, the store
/// checks the object that lost a name: when its last link is gone it is dropped once no client
/// has it open (POSIX: an unlinked open file keeps working until its last close). Its handle is
/// then kept for the server to take (`takeRemovedObjects`), so per-file state elsewhere (cache
/// grants) goes too.
///
/// The drop comes `removalGrace` (up to 50 ms more: one `GraceTimer` ends the graces of many
/// objects together) after the last link or the last close, whichever is later: a
/// client whose kernel looked the name up just before another client renamed a file over it or
/// removed it may still open what it found (`OpenRequest.resolvedJustNow`, the same window), as
/// an open on a local filesystem that resolved the name first does. A write, create or fallocate
/// that finds the disk full ends every grace at once and tries again, so the space of removed
/// files is never what is missing.
extension LocalDirectoryStore {
    /// How long a removed object no client has open stays reachable (see above).
    static let removalGrace: DispatchTimeInterval = .seconds(1)

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
        self.removeAfterGrace(self.authenticator.wrap(kernel))
    }

    func endGrace(of handle: ObjectHandle) {
        guard self.removalsInGrace.withLock({ $0.remove(handle) }) != nil else { return }
        self.forgetIfUnused(handle)
    }

    /// Runs `body` (a write, create or fallocate); when it fails with ENOSPC or EDQUOT while
    /// removed objects are still in their grace, ends every grace (their space returns) and runs
    /// it once more. Several writes of one file run at once (streamed writes, a writeback
    /// round): the graces are ended under `spaceReclaims`' lock, so a write that fails while
    /// another is giving the space back waits until it is back, then runs once more, instead of
    /// reporting a full disk whose space is being given back (it found the graces already taken
    /// but the space not yet free).
    func reclaimingSpace<T>(_ body: () throws -> T) throws -> T {
        let reclaimsBefore = self.spaceReclaims.withLock { $0 }
        do {
            return try body()
        } catch let error as Errno where error == .noSpace || error == Errno(EDQUOT) {
            let reclaimed = self.spaceReclaims.withLock { reclaims -> Bool in
                let graced = self.removalsInGrace.withLock { graced in
                    defer { graced = [] }
                    return graced
                }
                if !graced.isEmpty {
                    for handle in graced { self.forgetIfUnused(handle) }
                    reclaims += 1
                }
                return reclaims != reclaimsBefore
            }
            guard reclaimed else { throw error }
            return try body()
        }
    }

    /// The last open file of `object` closed: drop it if its last link is gone meanwhile.
    func fileClosed(_ object: ObjectReference) {
        guard self.objects.closed(object.handle), let st = try? statDescriptor(object.fd), st.st_nlink == 0 else {
            return
        }
        self.removeAfterGrace(object.handle)
    }

    /// Drops `handle` once `removalGrace` has passed, unless a file of it is open then (its last
    /// close starts another grace).
    private func removeAfterGrace(_ handle: ObjectHandle) {
        guard self.removalsInGrace.withLock({ $0.insert(handle).inserted }) else { return }
        self.removalGraces.add(handle)
    }

    private func forgetIfUnused(_ handle: ObjectHandle) {
        guard self.objects.removeUnlessOpen(handle) else { return }
        self.removedObjects.withLock { removed in
            if removed.count >= Self.maximumPendingRemovals { removed.removeFirst(removed.count / 2) }
            removed.append(handle)
        }
    }
}

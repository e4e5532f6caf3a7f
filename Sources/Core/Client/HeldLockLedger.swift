import Synchronization

/// The POSIX, OFD and flock locks this client's processes hold, by object: what the client
/// reclaims (SETLK with `reclaim`) when it reconnects to a restarted server, whose new session
/// holds none of them.
///
/// Filled by watching requests go by (`tracking`), with the lock manager's own range logic
/// (`FileLockList`: merge, trim, split), so the ledger holds exactly what the server granted:
/// - a granted SETLK merges its range in; a successful unlock cuts its range out;
/// - FLUSH (a process closed a descriptor) drops that owner's POSIX locks on the object, as
///   the server does;
/// - RELEASE drops that owner's flock locks and, once no descriptor of the object is open any
///   more, everything on the object.
/// Owners are recorded under session 0: the ledger outlives sessions.
///
/// Locking: one mutex, never held while calling out.
public final class HeldLockLedger: Sendable {
    private let locks = Mutex<[ObjectHandle: FileLockList]>([:])
    private let openFiles: OpenFileLedger
    private let clock = ContinuousClock()

    init(openFiles: OpenFileLedger) {
        self.openFiles = openFiles
    }

    /// Every held lock, by object.
    var all: [(ObjectHandle, [FileLock])] {
        self.locks.withLock { $0.map { ($0.key, $0.value.locks) } }
    }

    public var count: Int { self.locks.withLock { $0.values.reduce(0) { $0 + $1.locks.count } } }

    private static func holder(_ owner: LockOwner, _ flavor: FileLockFlavor) -> LockHolder {
        LockHolder(owner: LockOwnerKey(session: SessionID(0), owner: owner), kind: flavor == .flock ? .flock : .posix)
    }

    private func granted(_ request: SetlkRequest, on handle: ObjectHandle) {
        let holder = Self.holder(request.owner, request.flavor)
        let range = ByteRange(request.range.start, request.range.end)
        self.locks.withLock { locks in
            var list = locks[handle] ?? FileLockList()
            if request.type == .unlock {
                list.unlock(holder, range: range)
            } else {
                var owner = holder.owner
                owner.pid = Int32(bitPattern: request.pid)
                list.merge(
                    FileLock(
                        owner: owner, kind: holder.kind, mode: request.type == .write ? .exclusive : .shared,
                        range: range, since: self.clock.now))
            }
            locks[handle] = list.isEmpty ? nil : list
        }
    }

    private func drop(on handle: ObjectHandle, where predicate: (FileLock) -> Bool) {
        self.locks.withLock { locks in
            guard var list = locks[handle] else { return }
            list.removeAll(where: predicate)
            locks[handle] = list.isEmpty ? nil : list
        }
    }

    /// `completion`, wrapped so that the ledger follows `request` if it takes or drops locks.
    /// Runs before `OpenFileLedger.tracking` forgets a released file.
    func tracking<R: WireRequest>(
        _ request: R, _ completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) -> @Sendable (Result<R.Response, any Error>) -> Void {
        switch request {
        case let setlk as SetlkRequest:
            guard !setlk.reclaim, let handle = self.openFiles.handle(of: setlk.file) else { return completion }
            return { result in
                if case .success = result { self.granted(setlk, on: handle) }
                completion(result)
            }
        case let flush as FlushRequest:
            if let handle = self.openFiles.handle(of: flush.file) {
                self.drop(on: handle) { $0.kind == .posix && $0.owner.owner == flush.owner }
            }
            return completion
        case let release as ReleaseRequest:
            guard let handle = self.openFiles.handle(of: release.file) else { return completion }
            if let flockOwner = release.flockOwner {
                self.drop(on: handle) { $0.kind == .flock && $0.owner.owner == flockOwner }
            }
            if self.openFiles.someFile(on: handle, excluding: release.file) == nil {
                self.drop(on: handle) { _ in true }
            }
            return completion
        default:
            return completion
        }
    }
}

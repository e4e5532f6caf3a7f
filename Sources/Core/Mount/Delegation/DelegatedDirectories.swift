import Synchronization

/// The client's side of delegated directories (ConsistencyContract "Delegated directories"):
/// which directories this client holds, what it knows of their names, the pool of staged
/// objects it creates files from, and the errors of operations it answered before the server
/// applied them. The log itself is `DelegationLog`.
///
/// Thread-safe: one mutex, never held while calling out.
public final class DelegatedDirectories: Sendable {
    /// A file created here from the pool.
    struct Created: Sendable {
        var node: NodeID
        var handle: ObjectHandle
    }

    struct Directory: Sendable {
        var handle: ObjectHandle
        /// The directory's owner and mode as its MKDIR reply gave them (the local permission check).
        var owner: UInt32
        var mode: UInt32
        var gid: UInt32
        /// Files this client created here from the pool and has not removed.
        var created: [FileName: Created] = [:]
        /// Names this client made here through the server (MKDIR, SYMLINK, ...): asked of it.
        var asked: Set<FileName> = []
        /// Recalled: nothing is answered locally any more; gone once returned.
        var recalled = false

        var summary: HeldDirectory { HeldDirectory(handle: self.handle, mode: self.mode, gid: self.gid) }
    }

    /// What a create or unlink answered here needs of its held directory: a copy without the
    /// directory's names, so that holding it while `created` changes never copies the names
    /// (a `Directory` kept across a mutation made every create and unlink O(names)).
    struct HeldDirectory: Sendable {
        var handle: ObjectHandle
        var mode: UInt32
        var gid: UInt32
    }

    struct Errors: Sendable {
        /// Per directory: how many delegated operations in it failed, and the last errno.
        var directories: [NodeID: (count: Int, errno: Errno)] = [:]
        /// What each open descriptor of a directory has seen (errseq: each sees a failure once).
        var seen: [FileHandleID: (node: NodeID, count: Int)] = [:]
        /// Per directory: up to which failure some descriptor reported (a later OPENDIR starts there).
        var reportedUpTo: [NodeID: Int] = [:]
        /// Files whose create failed, and the descriptors that reported it already.
        var files: [NodeID: Errno] = [:]
        var reported: Set<FileHandleID> = []
    }

    struct State: Sendable {
        var directories: [NodeID: Directory] = [:]
        /// Directories recalled before this client knew them (the MKDIR reply was on its way).
        var recalledEarly: Set<ObjectHandle> = []
        var pool: [StagedObject] = []
        var refilling = false
        /// Run once the PREALLOC under way is answered.
        var refillWaiters: [@Sendable () -> Void] = []
        /// Files whose create is in the log and not yet answered, with its seq.
        var pendingCreates: [NodeID: UInt64] = [:]
        /// Files created here from the pool that the kernel still knows.
        var createdNodes: Set<NodeID> = []
        var errors = Errors()
    }

    let state = Mutex(State())
    /// Pool size below which a PREALLOC is sent, and how many it asks for.
    static let lowWater = 32
    static let refillCount: UInt32 = 128
    /// Operations answered here without a request, for status lines and tests.
    public let answeredLocally = Atomic<UInt64>(0)

    public init() {}

    // MARK: - Directories

    /// This client made `node` (MKDIR reply): born delegated, unless a recall came first.
    func born(_ node: NodeID, _ entry: Entry) {
        self.state.withLock { state in
            if state.recalledEarly.remove(entry.handle) != nil { return }
            state.directories[node] = Directory(
                handle: entry.handle, owner: entry.attributes.uid, mode: entry.attributes.mode, gid: entry.attributes.gid)
        }
    }

    /// The directory `node` when held and not recalled.
    func held(_ node: NodeID) -> HeldDirectory? {
        self.state.withLock { state in
            guard let directory = state.directories[node], !directory.recalled else { return nil }
            return directory.summary
        }
    }

    var holdsAny: Bool { self.state.withLock { !$0.directories.isEmpty } }

    /// A name is about to be made in `parent` through the server: from now on it is asked there.
    func asking(_ name: FileName, in parent: NodeID) {
        self.state.withLock { state in
            guard state.directories[parent] != nil else { return }
            state.directories[parent]!.asked.insert(name)
            if let created = state.directories[parent]!.created.removeValue(forKey: name) {
                state.pendingCreates[created.node] = nil
            }
        }
    }

    enum Answer {
        case absent
        case created(Created)
        case ask
        /// Not a held directory: the usual path.
        case notHeld
    }

    /// How LOOKUP of `name` in a held `parent` by `caller` is answered: here only for the
    /// directory's owner with search permission; the server checks anyone else (after the log).
    func lookup(_ name: FileName, in parent: NodeID, caller: Caller) -> Answer {
        self.state.withLock { state in
            guard let directory = state.directories[parent] else { return .notHeld }
            if directory.recalled { return .ask }
            guard caller.uid == directory.owner, directory.mode & 0o100 != 0 else { return .ask }
            if let created = directory.created[name] { return .created(created) }
            return directory.asked.contains(name) ? .ask : .absent
        }
    }

    /// Takes a staged object for a create of `name` in held `parent` by `caller` who owns it
    /// with write and search permission; nil when the create must go to the server.
    func takeStaged(for name: FileName, in parent: NodeID, caller: Caller) -> (StagedObject, HeldDirectory)? {
        self.state.withLock { state in
            guard let directory = state.directories[parent]?.summary, Self.answersHere(parent, caller, state),
                state.directories[parent]!.created[name] == nil, !state.directories[parent]!.asked.contains(name),
                !state.pool.isEmpty
            else { return nil }
            return (state.pool.removeLast(), directory)
        }
    }

    /// Whether `parent` is held, not recalled, and owned by `caller` with write and search
    /// permission. Reads the directory in place: no copy of it is alive when the caller then
    /// changes its names.
    private static func answersHere(_ parent: NodeID, _ caller: Caller, _ state: borrowing State) -> Bool {
        guard let directory = state.directories[parent] else { return false }
        return !directory.recalled && caller.uid == directory.owner && directory.mode & 0o300 == 0o300
    }

    /// The create of `name` in `parent` as `node`, log entry `seq`, was answered here.
    func createdLocally(_ name: FileName, in parent: NodeID, node: NodeID, handle: ObjectHandle, seq: UInt64) {
        self.state.withLock { state in
            state.directories[parent]?.created[name] = Created(node: node, handle: handle)
            state.pendingCreates[node] = seq
            state.createdNodes.insert(node)
        }
    }

    /// Removes `name` from held `parent` when this client created it from the pool and `caller`
    /// owns the directory with write and search permission (who may remove any name there,
    /// sticky bit or not): the object it expects there; nil when the unlink must go to the
    /// server, which checks everyone else (another user's unlink in a sticky directory is EPERM).
    func takeCreated(_ name: FileName, in parent: NodeID, caller: Caller) -> Created? {
        self.state.withLock { state in
            guard Self.answersHere(parent, caller, state) else { return nil }
            return state.directories[parent]!.created.removeValue(forKey: name)
        }
    }

    /// A name made through the server in `parent` is gone (RMDIR, UNLINK, RENAME away).
    func removedAsked(_ name: FileName, in parent: NodeID) {
        self.state.withLock { state in
            _ = state.directories[parent]?.asked.remove(name)
            _ = state.directories[parent]?.created.removeValue(forKey: name)
        }
    }

    /// Whether `node` is a file created here from the pool.
    func isCreatedHere(_ node: NodeID) -> Bool { self.state.withLock { $0.createdNodes.contains(node) } }

    /// The kernel forgot `node`.
    func forget(_ node: NodeID) { _ = self.state.withLock { $0.createdNodes.remove(node) } }

    /// The seq of `node`'s create when it is still in the log unanswered.
    func pendingCreate(_ node: NodeID) -> UInt64? { self.state.withLock { $0.pendingCreates[node] } }

    /// DELEG_RECALL for `handle`: the node to give back, or nil when this client does not know
    /// the directory (yet): it is then never taken as delegated.
    func recall(_ handle: ObjectHandle) -> NodeID? {
        self.state.withLock { state in
            guard let (node, _) = state.directories.first(where: { $0.value.handle == handle }) else {
                state.recalledEarly.insert(handle)
                return nil
            }
            state.directories[node]!.recalled = true
            return node
        }
    }

    /// The delegation of `node` was given back.
    func returned(_ node: NodeID) { _ = self.state.withLock { $0.directories.removeValue(forKey: node) } }

    /// The session was lost: nothing is held, the pool's files belong to a session that is gone.
    func lost() {
        self.state.withLock { state in
            state.directories.removeAll()
            state.pool.removeAll()
        }
    }

    // MARK: - Pool

    /// Whether a PREALLOC should be sent now (then one is marked under way).
    func needsRefill() -> Bool {
        self.state.withLock { state in
            guard !state.refilling, state.pool.count < Self.lowWater, !state.directories.isEmpty else { return false }
            state.refilling = true
            return true
        }
    }

    func refilled(_ objects: [StagedObject]) {
        let waiters: [@Sendable () -> Void] = self.state.withLock { state in
            state.pool.insert(contentsOf: objects, at: 0)
            state.refilling = false
            defer { state.refillWaiters = [] }
            return state.refillWaiters
        }
        waiters.forEach { $0() }
    }

    /// Runs `body` once the pool is not empty or no PREALLOC is under way (the first MKDIR
    /// waits for the pool, so the first creates in the new directory are answered here).
    func whenPoolReady(_ body: @escaping @Sendable () -> Void) {
        let now: Bool = self.state.withLock { state in
            guard state.pool.isEmpty, state.refilling else { return true }
            state.refillWaiters.append(body)
            return false
        }
        if now { body() }
    }

    // MARK: - Errors

    /// The create of `node` (`name` in `parent`) was applied, or failed with `error`.
    func createAnswered(_ node: NodeID, name: FileName, in parent: NodeID, error: Errno?) {
        self.state.withLock { state in
            state.pendingCreates[node] = nil
            guard let error else { return }
            state.errors.files[node] = error
            if state.directories[parent]?.created[name]?.node == node {
                // Whatever the server has under the name is the answer now.
                state.directories[parent]!.created[name] = nil
                state.directories[parent]!.asked.insert(name)
            }
            Self.failed(in: parent, error, &state)
        }
    }

    /// A delegated operation in `parent` other than a create failed.
    func failed(in parent: NodeID, _ error: Errno) { self.state.withLock { Self.failed(in: parent, error, &$0) } }

    private static func failed(in parent: NodeID, _ error: Errno, _ state: inout State) {
        let count = (state.errors.directories[parent]?.count ?? 0) + 1
        state.errors.directories[parent] = (count, error)
    }

    /// OPENDIR of `node` answered `file`: the descriptor sees failures not yet reported to anyone.
    func openedDirectory(_ file: FileHandleID, node: NodeID) {
        self.state.withLock { state in
            state.errors.seen[file] = (node, state.errors.reportedUpTo[node] ?? 0)
        }
    }

    func closedDirectory(_ file: FileHandleID) { _ = self.state.withLock { $0.errors.seen.removeValue(forKey: file) } }

    /// The failure fsync of directory descriptor `file` on `node` reports (once per descriptor).
    func directoryError(_ file: FileHandleID, node: NodeID) -> Errno? {
        self.state.withLock { state in
            guard let failure = state.errors.directories[node] else { return nil }
            let seen = state.errors.seen[file]?.count ?? 0
            guard failure.count > seen else { return nil }
            state.errors.seen[file] = (node, failure.count)
            state.errors.reportedUpTo[node] = failure.count
            return failure.errno
        }
    }

    /// The failure of `node`'s create known now, for close (once per descriptor).
    func knownFileError(_ file: FileHandleID, node: NodeID) -> Errno? { self.fileError(file, node: node) }

    /// The failure of `node`'s create that fsync or close of descriptor `file` reports (once).
    func fileError(_ file: FileHandleID, node: NodeID) -> Errno? {
        self.state.withLock { state in
            guard let error = state.errors.files[node], state.errors.reported.insert(file).inserted else { return nil }
            return error
        }
    }
}

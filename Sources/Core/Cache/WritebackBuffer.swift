import NIOCore
import Synchronization

/// The client's write-back: writes absorbed into the `PageCache` while the file's write-back
/// grant is held, and sent to the server later as coalesced WRITE transactions.
///
/// - A write is absorbed (answered at once) only when the node holds the server's exclusive
///   grant, the handle is a plain cached one (not O_DIRECT, O_APPEND, O_SYNC or O_DSYNC) and the
///   write is smaller than one transaction. A write of a whole transaction is streamed under the
///   same conditions (`WritebackBuffer+Stream`). Everything else is written through, after the
///   node's dirty and streamed bytes, so the server sees writes in the order the application
///   made them.
/// - Writeback runs on fsync, flush (close), release, a timer, a RECALL, before the server is
///   asked about the node's data or size (read, getattr, setattr, fallocate, copy_file_range), and
///   when dirty bytes pass `dirtyLimit` (the writer whose write crossed it waits for the writeback:
///   the cache's bound is never exceeded).
/// - At most one writeback per node is in flight, and only when none of its streamed writes is:
///   WRITEs of one node never overtake each other where they overlap.
/// - A failed WRITE drops its pages (as Linux does) and its error is kept for the node, to be
///   answered to the next fsync or flush (close) of the node: never dropped silently.
///
/// Locking: `state` is protected by its mutex, never held while sending or completing.
public final class WritebackBuffer: Sendable {
    public let client: RPCClient
    /// Dirty bytes past which a writer waits for a writeback (half the cache).
    public let dirtyLimit: Int
    let maximumTransaction: Int

    /// One waiter for a node's writeback: `reportsErrors` waiters (fsync, flush) receive the
    /// node's deferred write error and clear it; the others only wait.
    struct Waiter {
        var reportsErrors: Bool
        var completion: @Sendable (Errno?) -> Void
    }

    struct NodeState {
        /// The server's exclusive write-back grant is held.
        var granted = false
        var grantRequested = false
        /// A RECALL arrived while WRITEBACK_GRANT was on its way: the server took the grant back
        /// before its answer got here, so a "granted" answer is void.
        var recalledWhileAsking = false
        /// When the server last said no: ask again only a while later.
        var deniedAt: NIODeadline?
        /// Open handles through which writes may be absorbed, and how often each was opened.
        var handles: [FileHandleID: Int] = [:]
        /// The caller of the latest absorbed write, for the WRITEs that carry it.
        var caller = Caller.root
        var flushing = false
        /// A writeback was asked for while one was in flight: run another round after it.
        var again = false
        /// The round in flight left dirty pages unplanned (its budget was spent).
        var leftBehind = false
        var waiters: [Waiter] = []
        /// The first error of a write-back or streamed WRITE not yet reported.
        var error: Errno?
        /// The ranges of the streamed WRITEs in flight, and what waits for them to be answered.
        var streams: [Range<UInt64>] = []
        var afterStreams: [@Sendable () -> Void] = []
        /// The server's handle of the node (the key of `State.handles`), once opened.
        var objectHandle: ObjectHandle?
        /// Writes absorbed so far, and their count when the round in flight was planned.
        var absorbed: UInt64 = 0
        var absorbedAtPlan: UInt64 = 0
        /// The latest of the attributes the server sent with this writeback's WRITE replies
        /// (capability `writeAttributes`): the one it took last (largest change time, then size).
        var landedAttributes: FileAttributes?
        /// A WRITE of this writeback failed: what the server said is not handed on.
        var roundFailed = false
        /// The kernel has forgotten the node (`forget`): no handle can open it again, so neither
        /// its grant nor an error nobody can be told of keeps its state.
        var forgotten = false

        var isIdle: Bool {
            (!self.granted || self.forgotten) && !self.grantRequested && self.handles.isEmpty && !self.flushing
                && (self.error == nil || self.forgotten) && self.streams.isEmpty && self.afterStreams.isEmpty
        }
    }

    struct State {
        var cache: PageCache
        var nodes: [NodeID: NodeState] = [:]
        /// Nodes by server handle, for RECALL.
        var handles: [ObjectHandle: NodeID] = [:]
        /// Writes streamed since the mount (for the status line).
        var streamedWrites: UInt64 = 0

        /// Whether a streamed write of `node` is in flight.
        func isStreaming(_ node: NodeID) -> Bool { !(self.nodes[node]?.streams.isEmpty ?? true) }

        /// Bytes of `node` not on the server yet: dirty pages, or streams in flight.
        func hasUnsentBytes(_ node: NodeID) -> Bool { self.isStreaming(node) || self.cache.hasDirtyPages(of: node) }
    }

    let state: Mutex<State>
    /// Told the server's attributes of a node once a writeback left nothing of it dirty, with the
    /// count of writes absorbed when its last round was planned (`absorbedCount`): `WriteBehind`.
    let landedHandler = Mutex<StoredCallback<(NodeID, FileAttributes, UInt64)>?>(nil)

    public init(client: RPCClient, capacity: Int) {
        self.client = client
        let cache = PageCache(capacity: capacity)
        self.dirtyLimit = cache.capacity / 2
        self.maximumTransaction = Int(client.hello.maximumTransaction)
        self.state = Mutex(State(cache: cache))
    }

    /// Bytes in the cache now and its bound, for tests and STATUS= lines.
    public var usage: (used: Int, dirty: Int, capacity: Int) {
        self.state.withLock { ($0.cache.usedBytes, $0.cache.dirtyBytes, $0.cache.capacity) }
    }

    /// Writes streamed since the mount (`stream`).
    public var streamedWrites: UInt64 { self.state.withLock { $0.streamedWrites } }

    /// What `write` decided.
    public enum WriteDecision: Sendable {
        /// In the cache; answer the writer once `mustWait` is false or the writeback it started
        /// is done.
        case absorbed(mustWait: Bool)
        /// Send it to the server; first write back the node's dirty bytes if `writeBackFirst`.
        case writeThrough(writeBackFirst: Bool)
    }

    // MARK: - Open files

    /// A handle on `node` was opened that may buffer writes; asks for the grant unless held, or
    /// `granted` with the open (CREATE with `grantOnCreate`).
    public func opened(_ file: FileHandleID, node: NodeID, handle: ObjectHandle, granted: Bool = false) {
        let ask = self.state.withLock { state -> Bool in
            state.handles[handle] = node
            state.nodes[node, default: NodeState()].handles[file, default: 0] += 1
            state.nodes[node]!.objectHandle = handle
            if granted { state.nodes[node]!.granted = true }
            return Self.shouldAskForGrant(&state.nodes[node]!, force: true)
        }
        if ask { self.askForGrant(node, file: file) }
    }

    /// The handle is being released: call after the node's last writeback through it.
    public func released(_ file: FileHandleID, node: NodeID) {
        self.state.withLock { state in
            guard var entry = state.nodes[node], let count = entry.handles[file] else { return }
            entry.handles[file] = count > 1 ? count - 1 : nil
            state.nodes[node] = entry
            Self.forgetIfIdle(node, in: &state)
        }
    }

    /// The kernel has forgotten `node` (its last reference is gone): its state goes as soon as
    /// nothing is in flight and no dirty page is left, even while the grant is held. Without
    /// this every file created or opened under a grant kept its entry for the life of the mount
    /// (about 300 bytes each: the mount's heap grew by 3 MB per `tar -xf` and `rm -rf` of
    /// /usr/include). A RECALL of a forgotten file is answered at once (`recall`), and the
    /// server drops the grant of a removed file by itself (`CacheCoherence.forget`).
    public func forget(_ node: NodeID) {
        self.state.withLock { state in
            guard state.nodes[node] != nil else { return }
            state.nodes[node]!.forgotten = true
            Self.forgetIfIdle(node, in: &state)
        }
    }

    /// Drops the state of a node that holds nothing: no grant, handle, dirty page or error
    /// (a forgotten node's grant and error do not count; its clean pages go with it).
    static func forgetIfIdle(_ node: NodeID, in state: inout State) {
        guard let entry = state.nodes[node], entry.isIdle, !state.cache.hasDirtyPages(of: node) else { return }
        state.nodes[node] = nil
        if let handle = entry.objectHandle, state.handles[handle] == node { state.handles[handle] = nil }
        // Nothing can read a forgotten node's clean pages again (node ids are never reused).
        if entry.forgotten { state.cache.discard(node) }
    }

    // MARK: - Writing

    /// Decides what happens to a write of `bytes` at `offset` through `file` on `node`, and
    /// absorbs it when it may.
    public func write(
        _ node: NodeID, file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, caller: Caller
    ) -> WriteDecision {
        let (decision, ask) = self.state.withLock { state -> (WriteDecision, Bool) in
            guard var entry = state.nodes[node], entry.handles[file] != nil else {
                return (.writeThrough(writeBackFirst: state.hasUnsentBytes(node)), false)
            }
            defer { state.nodes[node] = entry }
            if entry.granted, bytes.count < self.maximumTransaction,
                state.cache.write(node, offset: offset, bytes: bytes)
            {
                entry.caller = caller
                entry.absorbed &+= 1
                return (.absorbed(mustWait: state.cache.dirtyBytes > self.dirtyLimit), false)
            }
            let ask = Self.shouldAskForGrant(&entry, force: false)
            return (.writeThrough(writeBackFirst: state.hasUnsentBytes(node)), ask)
        }
        if ask { self.askForGrant(node, file: file) }
        return decision
    }

    /// Writes absorbed for `node` so far (what `landedHandler` is told is compared with it).
    public func absorbedCount(_ node: NodeID) -> UInt64? {
        self.state.withLock { $0.nodes[node]?.absorbed }
    }

    /// The bytes of the range if every one is in the cache (written here and not yet sent).
    public func cachedBytes(_ node: NodeID, offset: UInt64, size: Int) -> [UInt8]? {
        self.state.withLock { $0.cache.read(node, offset: offset, size: size) }
    }

    /// Whether bytes of the range wait here to be sent: dirty pages, or any streamed write of the
    /// node in flight (whatever its range).
    public func hasDirtyPages(of node: NodeID, offset: UInt64 = 0, length: Int = .max) -> Bool {
        self.state.withLock { state in
            length == .max && offset == 0
                ? state.hasUnsentBytes(node)
                : state.isStreaming(node) || state.cache.hasDirtyPages(of: node, offset: offset, length: length)
        }
    }

    // MARK: - Grants

    /// Whether to send WRITEBACK_GRANT now (marking it sent): not while one is in flight or
    /// held, and after a refusal only a second later, unless `force`d by an open.
    private static func shouldAskForGrant(_ entry: inout NodeState, force: Bool) -> Bool {
        guard !entry.granted, !entry.grantRequested, !entry.handles.isEmpty else { return false }
        if !force, let deniedAt = entry.deniedAt, NIODeadline.now() - deniedAt < .seconds(1) { return false }
        entry.grantRequested = true
        entry.recalledWhileAsking = false
        return true
    }

    private func askForGrant(_ node: NodeID, file: FileHandleID) {
        self.client.send(WritebackGrantRequest(file: file), caller: .root) { result in
            let answer = (try? result.get().granted) ?? false
            self.state.withLock { state in
                guard state.nodes[node] != nil else { return }
                let granted = answer && !state.nodes[node]!.recalledWhileAsking
                state.nodes[node]!.grantRequested = false
                // A grant that arrives after the last handle closed is still the client's: the
                // server recalls it as usual.
                state.nodes[node]!.granted = granted
                state.nodes[node]!.deniedAt = granted ? nil : .now()
                // Closed and forgotten while the request was on its way: nothing holds it now.
                Self.forgetIfIdle(node, in: &state)
            }
        }
    }

    /// RECALL for the file with server handle `handle`: stop absorbing, write everything back,
    /// then `done` (which answers GRANT_RELEASE).
    public func recall(_ handle: ObjectHandle, done: @escaping @Sendable () -> Void) {
        let node: NodeID? = self.state.withLock { state in
            guard let node = state.handles[handle] else { return nil }
            state.nodes[node]?.granted = false
            if state.nodes[node]?.grantRequested == true { state.nodes[node]!.recalledWhileAsking = true }
            return node
        }
        guard let node else { return done() }
        self.writeBack(node, reportsErrors: false) { _ in done() }
    }

    /// The client's session was renewed after a server restart: the new server holds no grant
    /// for this client, so none is held any more. Writes go through (after the buffered bytes)
    /// until a grant is asked for and given again; the buffered bytes are written back now.
    public func grantsLost() {
        self.state.withLock { state in
            for node in state.nodes.keys { state.nodes[node]!.granted = false }
        }
        self.writeBackAll {}
    }
}

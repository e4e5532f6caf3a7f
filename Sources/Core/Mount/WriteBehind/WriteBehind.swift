import NIOCore
import Synchronization

/// Write-behind of per-file metadata under the write-back grant (ConsistencyContract
/// "Write-behind of file metadata").
///
/// While the client holds a file's grant (`WritebackBuffer`) and knows its attributes, SETATTR
/// (what `LocalSetattr` can decide), GETATTR and RELEASE are answered here at once, and FLUSH
/// once the file's buffered bytes are on the server (`flushBehind`); what
/// changes the file is queued per node and sent in order by a chain: each step first writes back
/// the node's dirty pages (all older than the step: writes are not buffered while a node has
/// steps queued), then sends one request and waits for its reply before the next. Requests of
/// one file so reach the server one at a time, in order (the server performs a connection's
/// requests on several pool threads); different files' chains run side by side.
///
/// Anything else this client asks the server about a node waits for the node's chain
/// (`afterPending`), and so does the answer to a RECALL. A step the server refuses records its
/// errno on the node, errseq-style: each descriptor open at that time reports it once at its next
/// fsync or close (`reportError`).
///
/// Locking: `state` is protected by its mutex. Lock order: `state`, then the write-back buffer's
/// (`isGranted` is read under `state`, so a RECALL, which clears the grant before it waits for
/// the chain, sees every step queued under the grant). Never held while sending or completing.
public final class WriteBehind: Sendable {
    /// One request answered locally and still to be sent.
    enum Step: Sendable {
        case setattr(SetattrRequest, Caller)
        case release(FileHandleID, Caller)
    }

    struct NodeState {
        /// The attributes as this client knows them; nil when it does not (then the server is asked).
        var attributes: FileAttributes?
        /// A write buffered here changed the file's modification and change times, which only the
        /// server can tell: it stamps its own when the bytes land. GETATTR then asks it (after
        /// the bytes), so the times seen here are the ones every other client sees and they do
        /// not change later by themselves (`make`, `rsync` and `git status` compare them).
        /// `attributes` still decides a SETATTR answered here.
        var timesStale = false
        /// What the server said the file was after a writeback that left nothing dirty (its
        /// WRITE replies, capability `writeAttributes`), with the generation then and the count
        /// of writes it covers: a GETATTR after the writeback answers from it
        /// (`learnedFromWriteback`) instead of asking.
        var landed: (attributes: FileAttributes, generation: UInt64, absorbed: UInt64)?
        /// A ring, not an array: a chain held off for a second can gather thousands of steps
        /// (a program calling fchmod in a loop), and the chain takes them from the front.
        var queue = CircularBuffer<Step>()
        /// A step is on its way (or the chain is about to send one).
        var running = false
        /// The chain is running but waits a moment before its first step, so the SETATTRs of a
        /// close that follows travel as one (`holdOff`); anyone who waits for it starts it.
        var holding = false
        /// Waiting for the chain to run dry.
        var drained: [@Sendable () -> Void] = []
        /// errseq: bumped at every recorded error; `error` is the latest.
        var errorSequence: UInt64 = 0
        var error: Errno?
        /// The kernel forgot the node: dropped once the chain is dry.
        var forgotten = false

        var isPending: Bool { self.running || !self.queue.isEmpty }
    }

    struct State {
        var nodes: [NodeID: NodeState] = [:]
        /// The errseq value each open descriptor has seen.
        var seen: [FileHandleID: (node: NodeID, sequence: UInt64)] = [:]
        /// Bumped whenever known attributes are forgotten: a reply to a request sent before
        /// (`ticket`) may predate the change that made them stale, and is not learned.
        var generation: UInt64 = 0
        /// Every node whose `attributes` may be non-nil (only `learned` makes them so), so that
        /// forgetting everything costs the files known, not every node the kernel holds.
        var known: Set<NodeID> = []
    }

    let client: RPCClient
    let writeback: WritebackBuffer
    let notifier: (any KernelNotifier)?
    let state = Mutex(State())
    /// How long a chain started by a SETATTR waits before sending unless something needs it
    /// sooner (a RELEASE, FSYNC, RECALL or any request that waits for the node's chain), so the
    /// SETATTRs that usually follow it (tar: owner, mode, times, then close) travel as one. Like
    /// the write-back timer (2 s) for buffered bytes, it bounds how long they stay here.
    static let holdOff = TimeAmount.seconds(1)
    /// Requests answered here (SETATTR, GETATTR, FLUSH, RELEASE), and requests sent by chains,
    /// for `pohmelfs status` and tests.
    public let answeredLocally = Atomic<UInt64>(0)
    public let sent = Atomic<UInt64>(0)

    public init(client: RPCClient, writeback: WritebackBuffer, notifier: (any KernelNotifier)?) {
        self.client = client
        self.writeback = writeback
        self.notifier = notifier
        let handler = StoredCallback<(NodeID, FileAttributes, UInt64)> { [weak self] landed in
            self?.landed(landed.0, landed.1, absorbed: landed.2)
        }
        writeback.landedHandler.withLock { $0 = handler }
    }

    // MARK: - What the client knows

    /// The server's attributes of `node`, from a reply it sent while nothing of the node was
    /// pending here: CREATE's (the file is new: a change by another client before the grant
    /// comes with an INVALIDATE, `unknown`), or GETATTR's and SETATTR's `underGrant`.
    /// `ticket`: taken (`ticket()`) before the request was sent; the reply is not learned when
    /// something was forgotten since.
    func learned(_ node: NodeID, _ attributes: FileAttributes, underGrant: Bool, ticket: UInt64? = nil) {
        self.state.withLock { state in
            guard !(state.nodes[node]?.isPending ?? false), !underGrant || self.writeback.isGranted(node),
                ticket.map({ $0 == state.generation }) ?? true
            else { return }
            state.nodes[node, default: NodeState()].attributes = attributes
            state.nodes[node]!.timesStale = false
            state.nodes[node]!.landed = nil
            state.known.insert(node)
        }
    }

    /// Someone else may have changed the node (INVALIDATE, LEASE_BREAK): what was known is not.
    func unknown(_ nodes: [NodeID]) {
        self.state.withLock { state in
            state.generation &+= 1
            for node in nodes where state.nodes[node] != nil { state.nodes[node]!.attributes = nil }
        }
    }

    /// A request that changes the node was forwarded to the server (not answered here: an
    /// APPEND, a WRITE sent the ordinary way, FALLOCATE, COPY_FILE_RANGE, OPEN, a SETATTR the
    /// server decided): the server may have changed what was known (size, times, set-id bits
    /// it clears), so it is forgotten and the next GETATTR asks the server. Called before the
    /// request is answered to the kernel.
    func changedOnServer(_ node: NodeID?) {
        guard let node else { return }
        self.unknown([node])
    }

    /// A request that may change files this client cannot name here (UNLINK, RENAME, LINK:
    /// link counts and change times) was forwarded: nothing known stays.
    func changedOnServerUnnamed() {
        self.state.withLock { Self.forgetAll(&$0) }
    }

    /// Forgets every node's known attributes: only the nodes in `known` can have any. (Looping
    /// over `nodes.keys` while assigning through `nodes[node]` copied the whole table once per
    /// node, and even an in-place loop over every node cost ~50 µs per UNLINK in a tree of
    /// 9,000 entries.)
    private static func forgetAll(_ state: inout State) {
        state.generation &+= 1
        for node in state.known { state.nodes[node]?.attributes = nil }
        state.known.removeAll(keepingCapacity: true)
    }

    /// A writeback of `node` left nothing dirty, and the server's last WRITE reply said the file
    /// was `attributes` after it; `absorbed`: the writes it covers.
    private func landed(_ node: NodeID, _ attributes: FileAttributes, absorbed: UInt64) {
        self.state.withLock { state in
            state.nodes[node, default: NodeState()].landed = (attributes, state.generation, absorbed)
        }
    }

    /// After the node's writeback (GETATTR, `ticket` taken before it): the attributes the
    /// server sent with its WRITE replies, learned and returned when they are still the truth:
    /// nothing forgotten since they came or since `ticket`, no write absorbed after the
    /// writeback's last round was planned, no step queued, the grant held. Nil: ask the server.
    func learnedFromWriteback(_ node: NodeID, ticket: UInt64) -> FileAttributes? {
        let attributes: FileAttributes? = self.state.withLock { state in
            guard let entry = state.nodes[node], !entry.isPending, let landed = entry.landed,
                landed.generation == state.generation, ticket == state.generation,
                self.writeback.isGranted(node), self.writeback.absorbedCount(node) == landed.absorbed
            else { return nil }
            state.nodes[node]!.attributes = landed.attributes
            state.nodes[node]!.timesStale = false
            state.known.insert(node)
            return landed.attributes
        }
        if attributes != nil { self.answeredLocally.add(1, ordering: .relaxed) }
        return attributes
    }

    /// The value `learned(ticket:)` compares with.
    func ticket() -> UInt64 { self.state.withLock { $0.generation } }

    /// A write of `count` bytes at `offset` succeeded (buffered or on the server).
    func wrote(_ node: NodeID, offset: UInt64, count: UInt64) {
        let now = LocalSetattr.now()
        self.state.withLock { state in
            guard var attributes = state.nodes[node]?.attributes else { return }
            // The server clears set-id bits on a write (kill-priv) as it decides: ask it.
            guard attributes.mode & 0o6000 == 0 else {
                state.generation &+= 1
                state.nodes[node]!.attributes = nil
                return
            }
            attributes.size = max(attributes.size, offset + count)
            // What a SETATTR answered here shows until the server says (`timesStale`).
            attributes.modificationTime = now
            attributes.changeTime = now
            state.nodes[node]!.attributes = attributes
            state.nodes[node]!.timesStale = true
            state.nodes[node]!.landed = nil
        }
    }

    /// The attributes to answer GETATTR with here, or nil when the server must be asked.
    func localAttributes(_ node: NodeID) -> FileAttributes? {
        let attributes: FileAttributes? = self.state.withLock { state in
            guard let entry = state.nodes[node], let attributes = entry.attributes, !entry.timesStale,
                self.writeback.isGranted(node)
            else { return nil }
            return attributes
        }
        if attributes != nil { self.answeredLocally.add(1, ordering: .relaxed) }
        return attributes
    }

    /// Answers SETATTR here when it may: returns the attributes after the change, which is then
    /// queued for the server; nil when the server must be asked.
    func setattr(_ node: NodeID, _ request: SetattrRequest, changes: AttributeChanges, caller: Caller) -> FileAttributes? {
        let now = LocalSetattr.now()
        let (answer, start): (FileAttributes?, Bool) = self.state.withLock { state in
            // Only while the file is open here (tar: fchown, fchmod, futimens, close): a change
            // by name after the last close (chmod, touch) is the server's at once, as a program
            // that then looks at the file some other way (another tool on the server) expects.
            guard let known = state.nodes[node]?.attributes, self.writeback.isGranted(node),
                state.seen.values.contains(where: { $0.node == node }),
                let changed = LocalSetattr.apply(changes, to: known, caller: caller, now: now)
            else { return (nil, false) }
            state.nodes[node]!.attributes = changed
            state.nodes[node]!.landed = nil
            // An explicit modification time (tar's, `cp -p`'s) is the one the server applies.
            if case .set = changes.modificationTime { state.nodes[node]!.timesStale = false }
            let start = Self.enqueue(.setattr(request, caller), node, &state)
            if start { state.nodes[node]!.holding = true }
            return (changed, start)
        }
        guard let answer else { return nil }
        self.answeredLocally.add(1, ordering: .relaxed)
        if start {
            // On the connection's event loop, where FUSE requests are read: arming it there is a
            // heap insert, where a Dispatch timer cost several thread wake-ups per file (tar).
            self.client.channel.eventLoop.scheduleTask(in: Self.holdOff) { self.startHeld(node) }
        }
        return answer
    }

    /// Answers RELEASE of `file` here when the node's grant is held: true when queued.
    func release(_ node: NodeID, file: FileHandleID, caller: Caller) -> Bool {
        let start: Bool? = self.state.withLock { state in
            guard self.writeback.isGranted(node) else { return nil }
            state.seen[file] = nil
            return Self.enqueue(.release(file, caller), node, &state) || Self.release(held: node, &state)
        }
        guard let start else { return false }
        self.answeredLocally.add(1, ordering: .relaxed)
        if start { self.run(node) }
        return true
    }

    /// Whether FLUSH may be answered here: the grant is held (the caller has checked locks).
    func mayAnswerFlush(_ node: NodeID) -> Bool {
        let may = self.state.withLock { _ in self.writeback.isGranted(node) }
        if may { self.answeredLocally.add(1, ordering: .relaxed) }
        return may
    }

    /// Ends the hold-off of the node's chain, if it is held: true when the caller is to run it.
    private static func release(held node: NodeID, _ state: inout State) -> Bool {
        guard state.nodes[node]?.holding == true else { return false }
        state.nodes[node]!.holding = false
        return true
    }

    /// The hold-off is over: runs the chain unless someone already did.
    private func startHeld(_ node: NodeID) {
        if self.state.withLock({ Self.release(held: node, &$0) }) { self.run(node) }
    }

    private static func enqueue(_ step: Step, _ node: NodeID, _ state: inout State) -> Bool {
        state.nodes[node, default: NodeState()].queue.append(step)
        guard !state.nodes[node]!.running else { return false }
        state.nodes[node]!.running = true
        return true
    }

    // MARK: - Waiting

    /// Whether `node` has requests answered here and not yet applied by the server.
    func isPending(_ node: NodeID) -> Bool {
        self.state.withLock { $0.nodes[node]?.isPending ?? false }
    }

    /// Runs `body` once every request of `node` answered here is applied: at once when none is.
    func afterPending(_ node: NodeID, _ body: @escaping @Sendable () -> Void) {
        let (now, start): (Bool, Bool) = self.state.withLock { state in
            guard state.nodes[node]?.isPending == true else { return (true, false) }
            state.nodes[node]!.drained.append(body)
            return (false, Self.release(held: node, &state))
        }
        if start { self.run(node) }
        if now { body() }
    }

    /// Runs `completion` once every chain is dry (unmount).
    public func drainAll() async {
        let nodes = self.state.withLock { state in state.nodes.filter { $0.value.isPending }.map(\.key) }
        for node in nodes {
            await withCheckedContinuation { continuation in self.afterPending(node) { continuation.resume() } }
        }
    }

    // MARK: - Errors

    /// A descriptor of `node` was opened: it reports only errors recorded from now on.
    func opened(_ file: FileHandleID, node: NodeID) {
        self.state.withLock { state in
            state.seen[file] = (node, state.nodes[node]?.errorSequence ?? 0)
        }
    }

    /// The error recorded on the descriptor's node since it last reported one, once.
    func reportError(_ file: FileHandleID) -> Errno? {
        self.state.withLock { state in
            guard let seen = state.seen[file], let entry = state.nodes[seen.node],
                entry.errorSequence > seen.sequence
            else { return nil }
            state.seen[file]!.sequence = entry.errorSequence
            return entry.error
        }
    }

    /// The descriptor is gone (a RELEASE sent the ordinary way).
    func closed(_ file: FileHandleID) {
        _ = self.state.withLock { $0.seen.removeValue(forKey: file) }
    }

    /// The kernel forgot `node`: its state goes once nothing of it is pending.
    func forget(_ node: NodeID) {
        self.state.withLock { state in
            guard state.nodes[node] != nil else { return }
            if state.nodes[node]!.isPending {
                state.nodes[node]!.forgotten = true
            } else {
                state.nodes[node] = nil
                state.known.remove(node)
            }
        }
    }

    /// The session's grants are gone (reconnection to a restarted server): nothing known stays.
    public func grantsLost() {
        self.state.withLock { Self.forgetAll(&$0) }
    }

    // MARK: - The chain

    /// Sends the node's next step once its older dirty pages are on the server; called with
    /// `running` set, by whoever set it.
    func run(_ node: NodeID) {
        self.writeback.writeBack(node, reportsErrors: false) { _ in
            let step: Step? = self.state.withLock { state in
                guard !state.nodes[node]!.queue.isEmpty else { return nil }
                var step = state.nodes[node]!.queue.removeFirst()
                // Consecutive SETATTRs travel as one.
                while case .setattr(let earlier, let caller) = step, let next = state.nodes[node]!.queue.first,
                    case .setattr(let later, let laterCaller) = next, laterCaller == caller,
                    let merged = LocalSetattr.merged(earlier, later)
                {
                    step = .setattr(merged, caller)
                    state.nodes[node]!.queue.removeFirst()
                }
                return step
            }
            guard let step else { return self.finish(node) }
            self.sent.add(1, ordering: .relaxed)
            switch step {
            case .setattr(let request, let caller):
                self.client.send(request, caller: caller) { result in
                    switch result {
                    case .success(let attributes): self.applied(node, attributes)
                    case .failure(let error): self.failed(node, (error as? Errno) ?? .io)
                    }
                    self.run(node)
                }
            case .release(let file, let caller):
                // The node's last writeback through the handle is done (above).
                self.writeback.released(file, node: node)
                self.client.send(ReleaseRequest(file: file), caller: caller) { _ in self.run(node) }
            }
        }
    }

    /// A SETATTR was applied: with nothing else queued, the server's attributes are the truth.
    private func applied(_ node: NodeID, _ attributes: FileAttributes) {
        self.state.withLock { state in
            guard state.nodes[node]!.queue.isEmpty, state.nodes[node]!.attributes != nil else { return }
            state.nodes[node]!.attributes = attributes
            state.nodes[node]!.timesStale = false
            state.nodes[node]!.landed = nil
        }
    }

    /// A request answered here was refused: recorded for fsync and close; what the client
    /// computed, and its kernel's copy, are forgotten.
    private func failed(_ node: NodeID, _ error: Errno) {
        self.state.withLock { state in
            state.nodes[node]!.errorSequence += 1
            state.nodes[node]!.error = error
            state.nodes[node]!.attributes = nil
        }
        self.notifier?.invalidate(node, offset: -1, length: 0) {}
    }

    private func finish(_ node: NodeID) {
        let waiters: [@Sendable () -> Void] = self.state.withLock { state in
            state.nodes[node]!.running = false
            let waiters = state.nodes[node]!.drained
            state.nodes[node]!.drained = []
            if state.nodes[node]!.forgotten {
                state.nodes[node] = nil
                state.known.remove(node)
            }
            return waiters
        }
        for waiter in waiters { waiter() }
    }
}

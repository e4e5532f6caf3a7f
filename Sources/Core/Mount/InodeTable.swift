import Synchronization

/// The client's map between kernel node ids and server object handles, with the kernel's
/// lookup counts (STYLE guideline 8).
///
/// - Node ids come from a counter that only goes up; one is never reused.
/// - Every reply that hands the kernel a node (lookup, create, mkdir, mknod, symlink, link,
///   each readdirplus entry) goes through `remember`, which increments the count, so the
///   increment cannot be forgotten.
/// - `forget` subtracts; at zero the node is removed. Forgetting more than was looked up is a
///   programming error (in the kernel or here) and traps.
/// - The root is pinned: never removed, its count ignored.
/// - Equal handles get the same node, so hard links are one inode to the kernel.
///
/// Locking: `state` is protected by its mutex; no I/O or reply happens while it is held.
public final class InodeTable: Sendable {
    struct Node {
        var handle: ObjectHandle
        var lookupCount: UInt64
    }

    struct State {
        var nodes: [NodeID: Node] = [:]
        var byHandle: [ObjectHandle: NodeID] = [:]
        var nextID: UInt64 = NodeID.root.rawValue + 1
    }

    private let state: Mutex<State>

    public init(rootHandle: ObjectHandle) {
        var state = State()
        state.nodes[.root] = Node(handle: rootHandle, lookupCount: 1)
        state.byHandle[rootHandle] = .root
        self.state = Mutex(state)
    }

    /// The server handle of `node`, or nil when the kernel names a node it has forgotten.
    public func handle(for node: NodeID) -> ObjectHandle? {
        self.state.withLock { $0.nodes[node]?.handle }
    }

    /// The node the kernel knows for `handle`, without touching its lookup count.
    public func node(for handle: ObjectHandle) -> NodeID? {
        self.state.withLock { $0.byHandle[handle] }
    }

    /// The node for `handle`, its lookup count incremented (allocating a node if new).
    public func remember(_ handle: ObjectHandle) -> NodeID {
        self.state.withLock { state in
            if let existing = state.byHandle[handle] {
                if existing != .root { state.nodes[existing]!.lookupCount += 1 }
                return existing
            }
            let id = NodeID(state.nextID)
            state.nextID += 1
            state.nodes[id] = Node(handle: handle, lookupCount: 1)
            state.byHandle[handle] = id
            return id
        }
    }

    /// The kernel dropped `count` references to `node`.
    public func forget(_ node: NodeID, count: UInt64) {
        guard node != .root else { return }
        self.state.withLock { state in
            guard let current = state.nodes[node] else {
                preconditionFailure("forget of unknown \(node)")
            }
            precondition(current.lookupCount >= count, "forget \(count) of \(node) with lookup count \(current.lookupCount)")
            if current.lookupCount == count {
                state.nodes[node] = nil
                state.byHandle[current.handle] = nil
            } else {
                state.nodes[node]!.lookupCount -= count
            }
        }
    }

    /// Unmount: every count is treated as zero; only the root remains.
    public func forgetAll() {
        self.state.withLock { state in
            let root = state.nodes[.root]!
            state.nodes = [.root: root]
            state.byHandle = [root.handle: .root]
        }
    }

    /// Every node currently known (the root included).
    public var allNodes: [NodeID] { self.state.withLock { Array($0.nodes.keys) } }

    /// Nodes currently known (the root included).
    public var count: Int { self.state.withLock { $0.nodes.count } }

    /// The lookup count of `node` (0 when unknown), for tests and diagnostics.
    public func lookupCount(of node: NodeID) -> UInt64 {
        self.state.withLock { $0.nodes[node]?.lookupCount ?? 0 }
    }
}

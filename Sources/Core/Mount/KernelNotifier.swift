/// Tells the kernel to forget what it caches about a node: implemented over
/// `fuse_lowlevel_notify_inval_inode` by `pohmelfs`, and by a recorder in tests.
public protocol KernelNotifier: Sendable {
    /// Drops the node's cached attributes and, unless `offset` is negative, its cached pages
    /// from `offset` for `length` bytes (0 = to the end). Calls `done` when the kernel has done it.
    ///
    /// Must not run on the thread that delivers replies: the kernel may wait for pages locked
    /// by reads in flight, whose replies that thread delivers.
    func invalidate(_ node: NodeID, offset: Int64, length: Int64, done: @escaping @Sendable () -> Void)
}

/// What a LEASE_BREAK asks of the kernel: forget names (found or missing) and objects' attributes.
public struct KernelForgetting: Sendable {
    /// Directory node and name: `fuse_lowlevel_notify_inval_entry`.
    public var entries: [(NodeID, FileName)]
    /// Nodes whose attributes go: `fuse_lowlevel_notify_inval_inode` with offset -1.
    public var nodes: [NodeID]

    public init(entries: [(NodeID, FileName)], nodes: [NodeID]) {
        self.entries = entries
        self.nodes = nodes
    }

    public var isEmpty: Bool { self.entries.isEmpty && self.nodes.isEmpty }
}

/// Forgetting names: a separate protocol so notifiers that only drop pages need not implement it.
///
/// `fuse_lowlevel_notify_inval_entry` takes the directory's lock, which this client's own
/// LOOKUP, CREATE, UNLINK or RENAME in that directory holds while it waits for its reply: it
/// must run on its own thread, never on the network thread nor under a lock a request needs.
public protocol EntryNotifier: KernelNotifier {
    /// Makes the kernel forget `what`, in order, then calls `done`.
    func forget(_ what: KernelForgetting, done: @escaping @Sendable () -> Void)
}

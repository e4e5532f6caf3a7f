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

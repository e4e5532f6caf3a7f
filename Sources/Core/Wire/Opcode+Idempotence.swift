extension Opcode {
    /// Whether performing this request twice can differ from performing it once: such requests
    /// have their replies kept in the server's per-session reply cache, so a copy the client
    /// resends after a lost reply is answered from the cache instead of being applied again.
    ///
    /// Idempotent requests (reads, lookups, attribute and lock queries, PING, write-back grant
    /// requests and releases: asking twice or releasing twice leaves the same state) are simply
    /// performed again. WRITE is cached too: a positional write is idempotent on its own, but
    /// performed again after another client's write to the same range it would undo that one,
    /// and an O_APPEND write (WRITE or APPEND) would append twice. OPEN and OPENDIR are cached so a resend does
    /// not leak a second server-side handle; RELEASE so a resend does not fail with EBADF.
    public var isReplayUnsafe: Bool {
        switch self {
        case .setattr, .symlink, .mknod, .mkdir, .unlink, .rmdir, .rename, .link, .open, .write, .release,
            .opendir, .releasedir, .setxattr, .removexattr, .create, .fallocate, .copyFileRange, .setlk, .flush, .append,
            .prealloc, .delegatedCreate, .delegatedUnlink, .opendirList:
            true
        case .hello, .lookup, .getattr, .readlink, .read, .fsync, .readdir, .statfs, .getxattr, .listxattr,
            .access, .getlk, .cancel, .lockTable, .invalidateDone, .ping, .reopen, .writebackGrant, .grantRelease,
            .auth, .invalidate, .lockGranted, .recall, .leaseBreak, .delegationReturn, .delegationRecall:
            false
        }
    }
}

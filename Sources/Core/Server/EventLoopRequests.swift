import NIOCore

/// The requests a server performs on the connection's event loop instead of the thread pool,
/// when its store answers namespace and attribute operations with a few short system calls on
/// local objects (`BackingStore.answersMetadataOnEventLoop`: the local directory store; never
/// CephFS, whose every call may wait on a metadata server).
///
/// A request handed to the pool costs two thread hand-offs (event loop to pool thread, and the
/// reply back), each a futex wake-up and a context switch: on a two-core machine that was about a
/// third of the server's CPU for an UNLINK or a RENAME. Samba's smbd makes the same choice (its
/// namespace calls are synchronous in its event loop; reads and writes go to a pool).
///
/// What stays on the pool: everything that moves file data (READ from disk, WRITE, APPEND,
/// FSYNC, FALLOCATE, COPY_FILE_RANGE), anything that can wait for another request (byte-range
/// and transaction locks: SETLK, GETLK; an OPEN's first read is done here only when it cannot
/// wait, else back on the pool), and what can take
/// long on a large file (a truncating SETATTR or OPEN, which frees the file's blocks), or makes
/// many objects at once (PREALLOC). The price of the rest: a namespace call the kernel must read
/// from disk (a cold directory block) holds the other connections of that event loop for as long
/// (docs/OPERATIONS.md).
enum EventLoopRequests {
    /// Whether `opcode` with `payload` (the caller already read off) runs on the event loop.
    static func runsOnEventLoop(_ opcode: Opcode, payload: ByteBuffer) -> Bool {
        switch opcode {
        case .lookup, .getattr, .readlink, .access, .statfs, .getxattr, .listxattr, .setxattr, .removexattr,
            .symlink, .mknod, .mkdir, .unlink, .rmdir, .rename, .link, .create, .release, .flush, .opendir,
            .opendirList, .readdir, .releasedir, .invalidateDone, .delegatedCreate, .delegatedUnlink:
            return true
        case .setattr:
            // A new size may free the blocks of a large file.
            guard let request = try? SetattrRequest.decode(payload: payload) else { return false }
            return request.size == nil
        case .open:
            guard let request = try? OpenRequest.decode(payload: payload) else { return false }
            // Its first read, if asked for, is done here only when it cannot wait, else off the
            // loop (`RequestRouter+Open`).
            return request.flags & OpenRequest.truncating == 0
        default:
            return false
        }
    }

    /// Runs `route` here, then gives the thread back the server's own identity: the event loop
    /// also does work of the server's (timers, the state directory) that must not run as the
    /// last caller (`ThreadIdentity` keeps a thread's identity between requests).
    static func run<Store: BackingStore>(
        _ route: RequestRouter<Store>.Route, _ payload: ByteBuffer, _ context: RequestContext<Store>
    ) -> Result<ByteBuffer?, any Error> {
        let result = Result { try route(payload, context) }
        // No system call when the request was root's (the thread still holds that identity).
        _ = try? ThreadIdentity.asServer {}
        return result
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// One server per state directory: `serve` holds an exclusive `flock` on `<state dir>/serve.lock`
/// for as long as it runs, and a second server given the same directory stops at start with a
/// clear error instead of sharing it.
///
/// Sharing is not safe: the directory's reclaim marker (`ReclaimMarker`) describes one server's
/// lock table, so a server that stops cleanly with no locks held would remove the mark another,
/// still holding its clients' locks, needs after a crash (its clients would then lose their
/// locks to others instead of reclaiming them). Servers of one export share only their handle
/// key (`serve --handle-key FILE`) and keep their own state directories. The lock goes with the
/// process, so a crashed server never blocks its restart.
public final class StateDirectoryLock: Sendable {
    public static let name = "serve.lock"
    private let descriptor: Int32

    /// Creates `directory` (mode 0700) if missing and takes its lock. Throws `ServerError` when
    /// another running server holds it, or the directory cannot be used.
    public init(directory: String) throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw ServerError(.stateDirectory, "cannot create state directory \(directory): \(Errno.current)")
        }
        let path = directory + "/" + Self.name
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ServerError(.stateDirectory, "cannot use state directory \(directory): \(Errno.current)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            close(fd)
            if error == EWOULDBLOCK {
                throw ServerError(
                    .stateDirectory,
                    "state directory \(directory) is in use by another pohmelfs serve; give each server its own --state-dir (servers of one export share only --handle-key FILE)"
                )
            }
            throw ServerError(.stateDirectory, "cannot lock state directory \(directory): \(Errno(error))")
        }
        self.descriptor = fd
    }

    deinit { close(self.descriptor) }
}

#if canImport(Glibc)
import Glibc
#endif

/// Whether clients may hold locks a new server must let them reclaim: a file in the state
/// directory that exists while a server runs and stays behind when it stops with client locks
/// held, or does not stop cleanly at all (a crash, SIGKILL).
///
/// `serve` starts with a grace period (`--grace-period`) only when it finds the file: so a
/// first start, or a restart after a clean shutdown with no locks held, does not make its
/// first clients wait.
public struct ReclaimMarker: Sendable {
    public let path: String

    public init(stateDirectory: String) {
        self.path = stateDirectory + "/locks-may-be-held"
    }

    /// Marks this run; returns whether an earlier run left the mark (clients may reclaim).
    public func begin() -> Bool {
        let existed = access(self.path, F_OK) == 0
        let fd = open(self.path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        return existed
    }

    /// A clean shutdown: the mark goes unless client locks are still held.
    public func end(locksHeld: Bool) {
        if !locksHeld { unlink(self.path) }
    }
}

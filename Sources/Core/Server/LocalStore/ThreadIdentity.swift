import CLinux
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Per-thread filesystem credentials, so every operation runs with the permissions of the user
/// who asked: files are created owned by that user and access checks are the kernel's own.
///
/// Linux keeps credentials per thread; glibc's `setgroups` would change every thread of the
/// process, so the raw system calls in `CLinux` are used. The thread remembers the identity it
/// holds and changes only when the next request is from someone else, so a run of requests by
/// one user costs no system calls. Switching needs root; a server that is not root performs
/// every operation as itself and does not advertise `callerIdentity`.
///
/// Threading: each thread touches only its own state, via a thread-specific variable.
public enum ThreadIdentity {
    /// Identity a thread currently holds (fsuid, fsgid, groups).
    private final class State: @unchecked Sendable {
        /// (fsuid, fsgid, groups) the thread holds; nil while unknown (after a failed switch).
        var current: Identity? = Identity(Caller.root)
    }

    /// The part of a `Caller` that credentials are made of (not the pid).
    private struct Identity: Equatable {
        var uid: UInt32
        var gid: UInt32
        var groups: [UInt32]
        init(_ caller: Caller) {
            self.uid = caller.uid
            self.gid = caller.gid
            self.groups = caller.groups
        }
    }

    private static let state = ThreadSpecificVariable<State>()

    /// True when this process may act as other users.
    public static let canSwitch: Bool = geteuid() == 0

    /// Runs `body` with the filesystem identity of `caller`. Throws EPERM if the kernel refuses.
    public static func acting<T>(as caller: Caller, _ body: () throws -> T) throws -> T {
        if Self.canSwitch { try Self.become(caller) }
        return try body()
    }

    /// Runs `body` as root (for open_by_handle_at, which needs CAP_DAC_READ_SEARCH).
    public static func asServer<T>(_ body: () throws -> T) throws -> T {
        if Self.canSwitch { try Self.become(.root) }
        return try body()
    }

    private static func become(_ caller: Caller) throws {
        let state: State
        if let existing = Self.state.currentValue {
            state = existing
        } else {
            state = State()
            Self.state.currentValue = state
        }
        let wanted = Identity(caller)
        if state.current == wanted { return }
        // Unknown until every call below has succeeded.
        state.current = nil
        let groups = caller.groups.map { gid_t($0) }
        _ = try systemCall { groups.withUnsafeBufferPointer { pohmelfs_thread_setgroups($0.count, $0.baseAddress) } }
        _ = try systemCall { pohmelfs_thread_setfsgid(caller.gid) }
        _ = try systemCall { pohmelfs_thread_setfsuid(caller.uid) }
        state.current = wanted
    }
}

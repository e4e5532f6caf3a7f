#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a lock request or operation was refused (STYLE guideline 14).
///
/// The lock manager answers ordinary contention with a `LockOutcome` rather than throwing;
/// `LockOutcome.error` turns a refusal into a `LockError` when the caller wants one. Errors
/// become an errno only at the edge, through `errno`.
public struct LockError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Code: String, Sendable {
        /// A non-blocking request met a conflicting lock (or a conflicting earlier waiter): EAGAIN.
        case wouldBlock
        /// Waiting would close a cycle of POSIX owners waiting for each other: EDEADLK.
        case deadlock
        /// The range is empty, overflows, or does not suit the lock kind (a partial `flock`): EINVAL.
        case invalidRange
        /// The ticket names no waiting request: it was granted, cancelled or never issued. EINVAL.
        case unknownTicket
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    /// The errno this error becomes in a FUSE reply or on the wire: the single mapping.
    public var errno: Errno {
        switch self.code {
        case .wouldBlock: return Errno(EAGAIN)
        case .deadlock: return Errno(EDEADLK)
        case .invalidRange: return Errno(EINVAL)
        case .unknownTicket: return Errno(EINVAL)
        }
    }

    public var description: String { self.message }
}

#if canImport(Glibc)
import Glibc
#endif

/// A Linux errno value: the single currency for errors that cross into FUSE or onto the wire.
///
/// Values arriving from the network pass through `init(wire:)`, which accepts only errno values
/// Linux defines and maps anything else to `EIO` (as net/9p's `safe_errno()` does), so a broken or
/// hostile server can never hand the kernel a nonsense error.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// Largest errno Linux defines (EHWPOISON).
    public static let maximumLinuxValue: Int32 = 133

    /// Validates an errno received from the network.
    public init(wire value: UInt32) {
        if value >= 1 && value <= UInt32(Errno.maximumLinuxValue) {
            self.rawValue = Int32(value)
        } else {
            self.rawValue = EIO
        }
    }

    /// The current thread's `errno`.
    public static var current: Errno { Errno(errno) }

    public static let noEntry = Errno(ENOENT)
    public static let io = Errno(EIO)
    public static let invalid = Errno(EINVAL)
    public static let exists = Errno(EEXIST)
    public static let notDirectory = Errno(ENOTDIR)
    public static let isDirectory = Errno(EISDIR)
    public static let notEmpty = Errno(ENOTEMPTY)
    public static let accessDenied = Errno(EACCES)
    public static let permission = Errno(EPERM)
    public static let nameTooLong = Errno(ENAMETOOLONG)
    public static let stale = Errno(ESTALE)
    public static let badFileHandle = Errno(EBADF)
    public static let notSupported = Errno(EOPNOTSUPP)
    public static let interrupted = Errno(EINTR)
    public static let notConnected = Errno(ENOTCONN)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let crossDevice = Errno(EXDEV)
    public static let noSpace = Errno(ENOSPC)
    public static let range = Errno(ERANGE)
    public static let noData = Errno(ENODATA)
    public static let readOnly = Errno(EROFS)
    public static let loop = Errno(ELOOP)

    public var description: String {
        guard let text = strerror(self.rawValue) else { return "errno \(self.rawValue)" }
        return "\(String(cString: text)) (errno \(self.rawValue))"
    }
}

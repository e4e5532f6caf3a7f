/// The kernel's lock owner for a file description (`fuse_file_info.lock_owner`); together with
/// the client session it names the owner of a POSIX lock.
public struct LockOwner: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "owner:\(String(self.rawValue, radix: 16))" }
}

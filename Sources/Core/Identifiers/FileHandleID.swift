/// An open file or directory on the server, valid within one client session. Returned by
/// OPEN, CREATE and OPENDIR; released by RELEASE and RELEASEDIR or when the session ends.
public struct FileHandleID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "fh:\(self.rawValue)" }
}

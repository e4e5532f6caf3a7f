/// Matches a reply (or a server notice that answers a request) to its request, the way 9P
/// matches tags. Allocated by the client, unique among the client's in-flight requests.
public struct TransactionID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    /// Frames that answer nothing (server notices) carry transaction 0.
    public static let none = TransactionID(0)
    public var description: String { "xid:\(self.rawValue)" }
}

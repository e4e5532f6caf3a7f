/// One client connection's session on the server, assigned in the HELLO reply.
public struct SessionID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "session:\(self.rawValue)" }
}

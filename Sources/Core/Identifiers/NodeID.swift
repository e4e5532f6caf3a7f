/// The FUSE node id the client hands to the kernel. Allocated from a counter that only goes up
/// and is never reused (STYLE guideline 8); the root is always 1 (`FUSE_ROOT_ID`).
public struct NodeID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let root = NodeID(1)
    public var description: String { "node:\(self.rawValue)" }
}

/// Where a cached page belongs: which file (the client's node for it) and which page of it.
public struct PageKey: Hashable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var index: PageIndex

    public init(node: NodeID, index: PageIndex) {
        self.node = node
        self.index = index
    }

    public var description: String { "\(self.node)/\(self.index)" }
}

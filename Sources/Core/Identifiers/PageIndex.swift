/// The number of a page within a file: byte `offset` lies in page `offset / PageCache.pageSize`.
public struct PageIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The page that holds byte `offset`.
    public init(containing offset: UInt64) { self.rawValue = offset / UInt64(PageCache.pageSize) }

    /// The file offset of the page's first byte.
    public var offset: UInt64 { self.rawValue * UInt64(PageCache.pageSize) }

    public static func < (lhs: PageIndex, rhs: PageIndex) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "page:\(self.rawValue)" }
}

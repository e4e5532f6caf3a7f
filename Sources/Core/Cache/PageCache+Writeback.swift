/// One WRITE transaction a writeback sends: contiguous dirty bytes of one file, at most the
/// negotiated transaction size, and the pages (with the version each had) it covers.
public struct WritebackExtent: Sendable, Equatable {
    public var node: NodeID
    public var offset: UInt64
    public var bytes: [UInt8]
    /// The pages the extent was built from and their `version` then.
    var sources: [PageStamp]

    struct PageStamp: Sendable, Equatable {
        var index: PageIndex
        var version: UInt64
    }

    public var range: Range<UInt64> { self.offset..<self.offset + UInt64(self.bytes.count) }
}

/// The writeback planner: dirty pages become as few WRITE transactions as the transaction size
/// allows, and a finished transaction makes its pages clean unless they were written again.
extension PageCache {
    /// Coalesces the dirty pages of `node` into extents of at most `maximumTransaction` bytes, in
    /// file order. Two dirty pages join one extent when they are neighbours and the first one's
    /// dirty range reaches its end while the second one's starts at its beginning, so an extent
    /// never carries a byte that was not written. Changes nothing: the pages stay dirty until
    /// `completeWriteback`.
    ///
    /// With `budget`, planning stops at the first extent that brings the total to `budget` bytes
    /// or more (the rest waits for the next plan): a writeback holds a bounded copy of the bytes.
    public func planWriteback(_ node: NodeID, maximumTransaction: Int, budget: Int = .max) -> [WritebackExtent] {
        precondition(maximumTransaction >= Self.pageSize, "a transaction must hold a page")
        let dirty = (self.pagesOfNode[node] ?? []).sorted().compactMap { index -> (PageIndex, CachedPage)? in
            guard let page = self.pages[PageKey(node: node, index: index)], page.isDirty else { return nil }
            return (index, page)
        }
        var extents: [WritebackExtent] = []
        var current: WritebackExtent?
        var currentEndsPage = false
        var previousIndex: PageIndex?
        var planned = 0
        for (index, page) in dirty {
            let joins =
                current != nil && currentEndsPage && previousIndex.map { $0.rawValue + 1 == index.rawValue } == true
                && page.valid.lowerBound == 0
                && current!.bytes.count + page.valid.count <= maximumTransaction
            if !joins {
                if let finished = current {
                    extents.append(finished)
                    planned += finished.bytes.count
                    if planned >= budget { return extents }
                }
                current = WritebackExtent(
                    node: node, offset: index.offset + UInt64(page.valid.lowerBound), bytes: [], sources: [])
                current!.bytes.reserveCapacity(min(maximumTransaction, Self.pageSize * dirty.count))
            }
            current!.bytes += page.bytes[page.valid]
            current!.sources.append(.init(index: index, version: page.version))
            currentEndsPage = page.valid.upperBound == Self.pageSize
            previousIndex = index
        }
        if let finished = current { extents.append(finished) }
        return extents
    }

    /// The server has the extent (or has refused it for good: the error is reported by the
    /// owner, and the pages are not kept, as Linux drops pages whose writeback failed). Pages
    /// written again since the plan stay dirty, to go out with the next writeback.
    public mutating func completeWriteback(_ extent: WritebackExtent) {
        for source in extent.sources {
            let key = PageKey(node: extent.node, index: source.index)
            guard let page = self.pages[key], page.version == source.version else { continue }
            self.remove(key)
        }
    }
}

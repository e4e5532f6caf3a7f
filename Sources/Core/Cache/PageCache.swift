/// The client's own data cache: the write-back buffer (dirty pages written here and not yet on the
/// server) and the readahead buffer (clean pages fetched ahead of the reader). The kernel's page
/// cache stays the read cache for data the kernel has seen; this cache holds what the kernel has
/// handed over but the server has not acknowledged, and what was fetched before anyone asked.
///
/// Invariants, checked by the tests:
/// - `usedBytes <= capacity` always: a page counts `pageSize` bytes whatever it holds, and an
///   operation that would need more room than evicting every clean page gives is refused whole
///   (nothing changes), never partly applied.
/// - Clean pages are evicted least recently used first; dirty pages are never evicted.
/// - A dirty page leaves the cache only through `completeWriteback` (or `discard`).
///
/// A value type with no locking and no I/O: its owner (`WritebackBuffer`) keeps it behind one lock
/// and does the network part.
public struct PageCache: Sendable {
    public static let pageSize = 4096

    /// The hard bound on `usedBytes`, a whole number of pages (at least one).
    public let capacity: Int
    var pages: [PageKey: CachedPage] = [:]
    /// The indexes of each node's pages, dirty or clean.
    var pagesOfNode: [NodeID: Set<PageIndex>] = [:]
    /// The LRU list of clean pages: `oldest` is evicted first.
    var oldest: PageKey?
    var newest: PageKey?
    /// Counts writes; a dirty page's `version` is the count when it was last written.
    var writes: UInt64 = 0
    public private(set) var dirtyBytes = 0
    public private(set) var cleanBytes = 0

    /// `capacity` is rounded down to whole pages, and up to one page at least.
    public init(capacity: Int) {
        self.capacity = max(Self.pageSize, capacity / Self.pageSize * Self.pageSize)
    }

    /// Bytes the pages take, `pageSize` each.
    public var usedBytes: Int { self.pages.count * Self.pageSize }

    public var isEmpty: Bool { self.pages.isEmpty }

    public func hasDirtyPages(of node: NodeID) -> Bool {
        self.pagesOfNode[node]?.contains { self.pages[PageKey(node: node, index: $0)]?.isDirty == true } ?? false
    }

    /// Nodes with at least one dirty page.
    public var dirtyNodes: [NodeID] {
        self.pagesOfNode.keys.filter { self.hasDirtyPages(of: $0) }
    }

    /// Whether any byte of `offset..<offset+length` of `node` is dirty (written, not yet sent).
    public func hasDirtyPages(of node: NodeID, offset: UInt64, length: Int) -> Bool {
        guard length > 0, let indexes = self.pagesOfNode[node], !indexes.isEmpty else { return false }
        let end = offset.addingReportingOverflow(UInt64(length))
        let last = end.overflow ? UInt64.max : end.partialValue - 1
        return indexes.contains { index in
            guard let page = self.pages[PageKey(node: node, index: index)], page.isDirty else { return false }
            let dirtyStart = index.offset + UInt64(page.valid.lowerBound)
            let dirtyLast = index.offset + UInt64(page.valid.upperBound) - 1
            return dirtyStart <= last && dirtyLast >= offset
        }
    }

    // MARK: - Writing

    /// Takes `bytes` written at `offset` into dirty pages. Returns false, changing nothing, when
    /// that would exceed `capacity` even after evicting every clean page, or when a page already
    /// dirty would end up with two separate dirty ranges (its owner then writes back first).
    public mutating func write(_ node: NodeID, offset: UInt64, bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count > 0 else { return true }
        let pieces = Self.pieces(offset: offset, count: bytes.count)
        var newPages = 0
        var cleanPagesInRange = 0
        for piece in pieces {
            let key = PageKey(node: node, index: piece.index)
            guard let page = self.pages[key], page.isDirty else {
                if self.pages[key] == nil { newPages += 1 } else { cleanPagesInRange += 1 }
                continue
            }
            // Overlapping or touching the dirty range keeps it one range.
            guard piece.range.lowerBound <= page.valid.upperBound, piece.range.upperBound >= page.valid.lowerBound
            else { return false }
        }
        // Clean pages in the written range become dirty in place: only the others can make room.
        let evictable = self.cleanBytes - cleanPagesInRange * Self.pageSize
        guard self.usedBytes + newPages * Self.pageSize <= self.capacity + evictable else { return false }
        self.writes += 1
        var consumed = 0
        for piece in pieces {
            let key = PageKey(node: node, index: piece.index)
            let source = UnsafeRawBufferPointer(rebasing: bytes[consumed..<consumed + piece.range.count])
            consumed += piece.range.count
            if var page = self.pages[key], page.isDirty {
                self.pages[key] = nil  // unique storage while we write into it
                page.bytes.withUnsafeMutableBytes {
                    $0.baseAddress!.advanced(by: piece.range.lowerBound).copyMemory(
                        from: source.baseAddress!, byteCount: source.count)
                }
                page.valid = min(page.valid.lowerBound, piece.range.lowerBound)..<max(
                    page.valid.upperBound, piece.range.upperBound)
                page.version = self.writes
                self.pages[key] = page
                continue
            }
            if self.pages[key] != nil { self.remove(key) }
            self.makeRoom(pages: 1)
            var storage = [UInt8](repeating: 0, count: Self.pageSize)
            storage.withUnsafeMutableBytes {
                $0.baseAddress!.advanced(by: piece.range.lowerBound).copyMemory(
                    from: source.baseAddress!, byteCount: source.count)
            }
            self.insert(key, CachedPage(bytes: storage, valid: piece.range, version: self.writes))
        }
        return true
    }

    // MARK: - Clean pages (readahead)

    /// Stores bytes the server sent for page `index` of `node` (short at end of file). Returns
    /// false when the page is dirty (the dirty bytes win) or there is no room even after evicting.
    @discardableResult
    public mutating func insertClean(_ node: NodeID, index: PageIndex, bytes: [UInt8]) -> Bool {
        precondition(bytes.count <= Self.pageSize, "a page holds at most \(Self.pageSize) bytes")
        let key = PageKey(node: node, index: index)
        if let page = self.pages[key] {
            guard !page.isDirty else { return false }
            self.remove(key)
        }
        guard self.usedBytes + Self.pageSize <= self.capacity + self.cleanBytes else { return false }
        self.makeRoom(pages: 1)
        self.insert(key, CachedPage(bytes: bytes, valid: 0..<bytes.count, version: 0))
        return true
    }

    /// The bytes of `offset..<offset+size` if every one of them is cached (clean or dirty), and
    /// marks the clean pages used. A range reaching past a short clean page (end of file) is
    /// answered up to there. Nil on any miss.
    public mutating func read(_ node: NodeID, offset: UInt64, size: Int) -> [UInt8]? {
        guard size > 0 else { return [] }
        var result: [UInt8] = []
        result.reserveCapacity(size)
        for piece in Self.pieces(offset: offset, count: size) {
            let key = PageKey(node: node, index: piece.index)
            guard let page = self.pages[key], page.valid.lowerBound <= piece.range.lowerBound else { return nil }
            if page.valid.upperBound >= piece.range.upperBound {
                result += page.bytes[piece.range]
                continue
            }
            // A clean page shorter than a page is the end of the file.
            guard !page.isDirty, page.valid.upperBound < Self.pageSize else { return nil }
            if page.valid.upperBound > piece.range.lowerBound {
                result += page.bytes[piece.range.lowerBound..<page.valid.upperBound]
            }
            break
        }
        for piece in Self.pieces(offset: offset, count: size) {
            self.touch(PageKey(node: node, index: piece.index))
        }
        return result
    }

    /// Drops the clean pages of `node` (the server invalidated the file). Dirty pages stay:
    /// they are this client's writes, still to be sent.
    public mutating func dropCleanPages(of node: NodeID) {
        for index in self.pagesOfNode[node] ?? [] {
            let key = PageKey(node: node, index: index)
            if self.pages[key]?.isDirty == false { self.remove(key) }
        }
    }

    /// Drops every page of `node`, dirty ones too (their writeback failed for good).
    public mutating func discard(_ node: NodeID) {
        for index in self.pagesOfNode[node] ?? [] { self.remove(PageKey(node: node, index: index)) }
    }

    // MARK: - Bookkeeping

    /// One page's share of a byte range: the page and the byte range within it.
    struct Piece {
        var index: PageIndex
        var range: Range<Int>
    }

    static func pieces(offset: UInt64, count: Int) -> [Piece] {
        var pieces: [Piece] = []
        var position = offset
        let end = offset + UInt64(count)
        while position < end {
            let index = PageIndex(containing: position)
            let start = Int(position - index.offset)
            let stop = Int(min(end - index.offset, UInt64(Self.pageSize)))
            pieces.append(Piece(index: index, range: start..<stop))
            position = index.offset + UInt64(stop)
        }
        return pieces
    }

    /// Evicts clean pages, oldest first, until `pages` more fit. The caller has checked they can.
    private mutating func makeRoom(pages: Int) {
        while self.usedBytes + pages * Self.pageSize > self.capacity, let victim = self.oldest {
            self.remove(victim)
        }
        precondition(self.usedBytes + pages * Self.pageSize <= self.capacity, "page cache bound exceeded")
    }

    mutating func insert(_ key: PageKey, _ page: CachedPage) {
        self.pages[key] = page
        self.pagesOfNode[key.node, default: []].insert(key.index)
        if page.isDirty {
            self.dirtyBytes += Self.pageSize
        } else {
            self.cleanBytes += Self.pageSize
            self.link(key)
        }
    }

    mutating func remove(_ key: PageKey) {
        guard let page = self.pages[key] else { return }
        if page.isDirty {
            self.dirtyBytes -= Self.pageSize
        } else {
            self.unlink(key)
            self.cleanBytes -= Self.pageSize
        }
        self.pages[key] = nil
        self.pagesOfNode[key.node]?.remove(key.index)
        if self.pagesOfNode[key.node]?.isEmpty == true { self.pagesOfNode[key.node] = nil }
    }

    /// Moves a clean page to the newest end of the LRU list.
    private mutating func touch(_ key: PageKey) {
        guard let page = self.pages[key], !page.isDirty, self.newest != key else { return }
        self.unlink(key)
        self.link(key)
    }

    private mutating func link(_ key: PageKey) {
        self.pages[key]?.older = self.newest
        self.pages[key]?.newer = nil
        if let newest = self.newest { self.pages[newest]?.newer = key } else { self.oldest = key }
        self.newest = key
    }

    private mutating func unlink(_ key: PageKey) {
        guard let page = self.pages[key] else { return }
        if let older = page.older { self.pages[older]?.newer = page.newer } else { self.oldest = page.newer }
        if let newer = page.newer { self.pages[newer]?.older = page.older } else { self.newest = page.older }
        self.pages[key]?.older = nil
        self.pages[key]?.newer = nil
    }

    /// The clean pages from least to most recently used, for tests.
    var lruOrder: [PageKey] {
        var order: [PageKey] = []
        var cursor = self.oldest
        while let key = cursor {
            order.append(key)
            cursor = self.pages[key]?.newer
        }
        return order
    }
}

/// One page in the `PageCache`: up to `PageCache.pageSize` bytes of a file and which of them are
/// meaningful.
///
/// - A clean page (readahead) holds bytes as the server sent them: `valid` is `0..<count`, shorter
///   than a page at end of file. It sits on the cache's LRU list and may be evicted at any time.
/// - A dirty page holds bytes written on this client and not yet on the server: `valid` is the
///   one contiguous range that was written (bytes outside it are unknown, never sent). `version`
///   changes on every write, so a writeback that finishes after the page was written again leaves
///   it dirty. Dirty pages are never evicted: only a finished writeback removes them.
struct CachedPage: Sendable {
    var bytes: [UInt8]
    var valid: Range<Int>
    /// Nonzero while dirty: the cache-wide write counter when the page was last written.
    var version: UInt64
    /// Neighbours on the LRU list of clean pages (nil for dirty pages and at the list's ends).
    var older: PageKey?
    var newer: PageKey?

    var isDirty: Bool { self.version != 0 }

    init(bytes: [UInt8], valid: Range<Int>, version: UInt64) {
        self.bytes = bytes
        self.valid = valid
        self.version = version
    }
}

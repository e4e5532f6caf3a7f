@testable import PohmelfsCore
import XCTest

final class PageCacheTests: XCTestCase {
    let node = NodeID(7)
    let page = PageCache.pageSize

    private func write(_ cache: inout PageCache, _ node: NodeID, at offset: UInt64, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { cache.write(node, offset: offset, bytes: $0) }
    }

    private func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    func testCapacityIsRoundedToWholePagesAndAtLeastOne() {
        XCTAssertEqual(PageCache(capacity: 10_000).capacity, 8192)
        XCTAssertEqual(PageCache(capacity: 0).capacity, 4096)
    }

    func testWrittenBytesReadBackAcrossPageBoundaries() {
        var cache = PageCache(capacity: 1 << 20)
        let data = self.pattern(10_000, seed: 3)
        XCTAssertTrue(self.write(&cache, self.node, at: 1000, data))
        XCTAssertEqual(cache.read(self.node, offset: 1000, size: 10_000), data)
        XCTAssertEqual(cache.read(self.node, offset: 5000, size: 100), Array(data[4000..<4100]))
        XCTAssertNil(cache.read(self.node, offset: 999, size: 2), "byte 999 was never written")
        XCTAssertEqual(cache.dirtyBytes, 3 * self.page)
        XCTAssertTrue(cache.hasDirtyPages(of: self.node, offset: 0, length: 1001))
        XCTAssertFalse(cache.hasDirtyPages(of: self.node, offset: 0, length: 1000))
    }

    func testDirtyPagesAreNeverEvictedAndTheBoundRefusesWholeWrites() {
        var cache = PageCache(capacity: 4 * self.page)
        XCTAssertTrue(self.write(&cache, self.node, at: 0, self.pattern(3 * self.page, seed: 1)))
        // Two more pages do not fit next to three dirty ones: refused, nothing changes.
        XCTAssertFalse(self.write(&cache, NodeID(8), at: 0, self.pattern(2 * self.page, seed: 2)))
        XCTAssertNil(cache.read(NodeID(8), offset: 0, size: 1))
        XCTAssertEqual(cache.usedBytes, 3 * self.page)
        XCTAssertTrue(self.write(&cache, NodeID(8), at: 0, self.pattern(self.page, seed: 2)))
        XCTAssertEqual(cache.usedBytes, cache.capacity)
        XCTAssertFalse(cache.insertClean(NodeID(9), index: PageIndex(0), bytes: [1]))
        XCTAssertEqual(cache.read(self.node, offset: 0, size: 3 * self.page), self.pattern(3 * self.page, seed: 1))
    }

    func testCleanPagesAreEvictedLeastRecentlyUsedFirst() {
        var cache = PageCache(capacity: 3 * self.page)
        for index in 0..<3 {
            XCTAssertTrue(cache.insertClean(self.node, index: PageIndex(UInt64(index)), bytes: [UInt8(index)]))
        }
        _ = cache.read(self.node, offset: 0, size: 1)  // page 0 becomes the newest
        XCTAssertEqual(cache.lruOrder.map(\.index.rawValue), [1, 2, 0])
        XCTAssertTrue(cache.insertClean(self.node, index: PageIndex(3), bytes: [3]))
        XCTAssertEqual(cache.lruOrder.map(\.index.rawValue), [2, 0, 3], "page 1 was the least recently used")
        // A write needs room too: it evicts the oldest clean page, never more than it needs.
        XCTAssertTrue(self.write(&cache, NodeID(8), at: 0, [9]))
        XCTAssertEqual(cache.lruOrder.map(\.index.rawValue), [0, 3])
        XCTAssertEqual(cache.usedBytes, cache.capacity)
    }

    func testTheBoundHoldsUnderRandomWorkloads() {
        var generator = SystemRandomNumberGenerator()
        var cache = PageCache(capacity: 16 * self.page)
        for _ in 0..<5_000 {
            let node = NodeID(UInt64.random(in: 1...3, using: &generator))
            let offset = UInt64.random(in: 0..<(64 * UInt64(self.page)), using: &generator)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0:
                _ = self.write(&cache, node, at: offset, self.pattern(Int.random(in: 1...3 * self.page), seed: 5))
            case 1:
                cache.insertClean(node, index: PageIndex(containing: offset), bytes: self.pattern(100, seed: 1))
            case 2:
                for extent in cache.planWriteback(node, maximumTransaction: 3 * self.page) {
                    cache.completeWriteback(extent)
                }
            default:
                _ = cache.read(node, offset: offset, size: 10)
            }
            XCTAssertLessThanOrEqual(cache.usedBytes, cache.capacity)
            XCTAssertEqual(cache.usedBytes, cache.dirtyBytes + cache.cleanBytes)
            XCTAssertEqual(cache.lruOrder.count * self.page, cache.cleanBytes)
        }
    }

    func testContiguousDirtyPagesCoalesceUpToTheTransactionSize() {
        var cache = PageCache(capacity: 1 << 20)
        // Ten full pages written 4 KiB at a time, as `dd bs=4k` does.
        for index in 0..<10 {
            XCTAssertTrue(self.write(&cache, self.node, at: UInt64(index * self.page), self.pattern(self.page, seed: UInt8(index))))
        }
        let plan = cache.planWriteback(self.node, maximumTransaction: 4 * self.page)
        XCTAssertEqual(plan.map(\.offset), [0, UInt64(4 * self.page), UInt64(8 * self.page)])
        XCTAssertEqual(plan.map(\.bytes.count), [4 * self.page, 4 * self.page, 2 * self.page])
        XCTAssertEqual(plan.flatMap(\.bytes), (0..<10).flatMap { self.pattern(self.page, seed: UInt8($0)) })
    }

    func testExtentsNeverCarryBytesThatWereNotWritten() {
        var cache = PageCache(capacity: 1 << 20)
        XCTAssertTrue(self.write(&cache, self.node, at: 100, [1, 2, 3]))  // page 0, a hole before and after
        // The end of page 1 and the start of page 2: one extent across the boundary.
        XCTAssertTrue(self.write(&cache, self.node, at: UInt64(2 * self.page) - 2, [4, 5, 6, 7]))
        XCTAssertTrue(self.write(&cache, self.node, at: UInt64(4 * self.page), [8]))  // page 4: page 3 is a gap
        XCTAssertFalse(self.write(&cache, self.node, at: 200, [9]), "a second dirty range in page 0")
        let plan = cache.planWriteback(self.node, maximumTransaction: 1 << 20)
        XCTAssertEqual(plan.map(\.offset), [100, UInt64(2 * self.page) - 2, UInt64(4 * self.page)])
        XCTAssertEqual(plan.map(\.bytes), [[1, 2, 3], [4, 5, 6, 7], [8]])
    }

    func testAWritebackLeavesPagesWrittenAgainMeanwhileDirty() {
        var cache = PageCache(capacity: 1 << 20)
        XCTAssertTrue(self.write(&cache, self.node, at: 0, self.pattern(2 * self.page, seed: 1)))
        let plan = cache.planWriteback(self.node, maximumTransaction: 1 << 20)
        XCTAssertTrue(self.write(&cache, self.node, at: UInt64(self.page), [42]))  // page 1 again, in flight
        plan.forEach { cache.completeWriteback($0) }
        XCTAssertEqual(cache.dirtyBytes, self.page)
        let next = cache.planWriteback(self.node, maximumTransaction: 1 << 20)
        XCTAssertEqual(next.map(\.offset), [UInt64(self.page)])
        var expected = Array(self.pattern(2 * self.page, seed: 1)[self.page...])
        expected[0] = 42
        XCTAssertEqual(next.first?.bytes, expected)
        next.forEach { cache.completeWriteback($0) }
        XCTAssertTrue(cache.isEmpty)
        XCTAssertFalse(cache.hasDirtyPages(of: self.node))
    }

    func testInvalidationDropsCleanPagesButKeepsDirtyOnes() {
        var cache = PageCache(capacity: 1 << 20)
        cache.insertClean(self.node, index: PageIndex(0), bytes: self.pattern(self.page, seed: 1))
        XCTAssertTrue(self.write(&cache, self.node, at: UInt64(self.page), [1]))
        cache.dropCleanPages(of: self.node)
        XCTAssertNil(cache.read(self.node, offset: 0, size: 1))
        XCTAssertEqual(cache.read(self.node, offset: UInt64(self.page), size: 1), [1])
        XCTAssertEqual(cache.dirtyNodes, [self.node])
    }

    func testAShortCleanPageIsTheEndOfTheFile() {
        var cache = PageCache(capacity: 1 << 20)
        cache.insertClean(self.node, index: PageIndex(0), bytes: self.pattern(self.page, seed: 1))
        cache.insertClean(self.node, index: PageIndex(1), bytes: [1, 2, 3])
        XCTAssertEqual(cache.read(self.node, offset: UInt64(self.page), size: self.page)?.count, 3)
        XCTAssertEqual(cache.read(self.node, offset: 0, size: 3 * self.page)?.count, self.page + 3)
    }

    func testABudgetStopsThePlanAfterTheExtentThatReachesIt() {
        var cache = PageCache(capacity: 1 << 20)
        // Four separate dirty runs of two pages each (a clean gap page between them).
        for run in 0..<4 {
            XCTAssertTrue(self.write(&cache, self.node, at: UInt64(run * 3 * self.page), self.pattern(2 * self.page, seed: 1)))
        }
        XCTAssertEqual(cache.planWriteback(self.node, maximumTransaction: 1 << 20).count, 4)
        let first = cache.planWriteback(self.node, maximumTransaction: 1 << 20, budget: 3 * self.page)
        XCTAssertEqual(first.map(\.offset), [0, UInt64(3 * self.page)])
        first.forEach { cache.completeWriteback($0) }
        let rest = cache.planWriteback(self.node, maximumTransaction: 1 << 20, budget: 3 * self.page)
        XCTAssertEqual(rest.map(\.offset), [UInt64(6 * self.page), UInt64(9 * self.page)])
    }
}

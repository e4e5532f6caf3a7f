import XCTest

@testable import PohmelfsCore

final class AtomicityCheckTests: XCTestCase {
    /// A 1 MiB read starting at `offset`, every word of the overlap set by `fill`.
    private func read(at offset: Int, fill: (Int) -> UInt64) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: AtomicityCheck.transferSize / 8)
        for index in words.indices {
            let fileOffset = offset + index * 8
            words[index] = AtomicityCheck.overlap.contains(fileOffset) ? fill(fileOffset) : 0xDEAD
        }
        return words
    }

    func testRangesOverlapWithoutPageAlignment() {
        XCTAssertNotEqual(AtomicityCheck.firstOffset % 4096, 0)
        XCTAssertNotEqual(AtomicityCheck.secondOffset % 4096, 0)
        XCTAssertEqual(AtomicityCheck.firstOffset % 512, 0)
        XCTAssertEqual(AtomicityCheck.secondOffset % 512, 0)
        XCTAssertGreaterThan(AtomicityCheck.overlap.count, 256 << 10)
        XCTAssertLessThan(AtomicityCheck.overlap.count, AtomicityCheck.transferSize)
    }

    func testAReadOfOneTransactionIsNotTorn() {
        let tag = AtomicityCheck.tag(writer: 2, sequence: 77)
        for offset in [AtomicityCheck.firstOffset, AtomicityCheck.secondOffset] {
            let words = self.read(at: offset) { _ in tag }
            let result = words.withUnsafeBytes { AtomicityCheck.inspect($0, readAt: offset) }
            XCTAssertFalse(result.torn)
            XCTAssertEqual(result.tag, tag)
        }
    }

    func testAReadMixingTwoTransactionsInTheOverlapIsTorn() {
        let middle = AtomicityCheck.overlap.lowerBound + AtomicityCheck.overlap.count / 2
        let a = AtomicityCheck.tag(writer: 1, sequence: 5)
        let b = AtomicityCheck.tag(writer: 2, sequence: 9)
        let words = self.read(at: AtomicityCheck.firstOffset) { $0 < middle ? a : b }
        XCTAssertTrue(words.withUnsafeBytes { AtomicityCheck.inspect($0, readAt: AtomicityCheck.firstOffset) }.torn)
    }

    func testTheLastWordOfTheOverlapCounts() {
        let a = AtomicityCheck.tag(writer: 1, sequence: 1)
        let last = AtomicityCheck.overlap.upperBound - 8
        let words = self.read(at: AtomicityCheck.secondOffset) { $0 == last ? a + 1 : a }
        XCTAssertTrue(words.withUnsafeBytes { AtomicityCheck.inspect($0, readAt: AtomicityCheck.secondOffset) }.torn)
    }
}

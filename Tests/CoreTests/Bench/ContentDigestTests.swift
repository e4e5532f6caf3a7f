import PohmelfsCore
import XCTest

final class ContentDigestTests: XCTestCase {
    private func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    func testContentIsHashedInOneMebibyteChunks() {
        let data = self.bytes(ContentDigest.chunkSize * 2 + 1000)
        let digest = ContentDigest(bytes: data)
        XCTAssertEqual(digest.length, data.count)
        XCTAssertEqual(digest.chunks.count, 3)
        XCTAssertEqual(digest.chunks[2], XXHash64.hash(Array(data[(2 * ContentDigest.chunkSize)...])))
    }

    func testSmallContentHasItsHashAsValue() {
        let data = self.bytes(5000)
        XCTAssertEqual(ContentDigest(bytes: data).value, XXHash64.hash(data))
        XCTAssertEqual(ContentDigest(bytes: []).chunks, [XXHash64.hash([])])
    }

    func testAppendingWholeChunksEqualsHashingAtOnce() {
        let data = self.bytes(ContentDigest.chunkSize * 3 + 17)
        var pieces = ContentDigest()
        data.withUnsafeBytes { raw in
            pieces.append(UnsafeRawBufferPointer(rebasing: raw[0..<(2 * ContentDigest.chunkSize)]))
            pieces.append(UnsafeRawBufferPointer(rebasing: raw[(2 * ContentDigest.chunkSize)...]))
        }
        pieces.finish()
        XCTAssertEqual(pieces, ContentDigest(bytes: data))
    }

    func testFirstDifferenceNamesTheChunkHoldingAFlippedByte() {
        var data = self.bytes(ContentDigest.chunkSize * 3)
        let expected = ContentDigest(bytes: data)
        let flipped = ContentDigest.chunkSize + 12345
        data[flipped] ^= 0x01
        let actual = ContentDigest(bytes: data)
        XCTAssertNotEqual(actual.value, expected.value)
        let range = expected.firstDifference(in: actual)
        XCTAssertEqual(range, ContentDigest.chunkSize..<(2 * ContentDigest.chunkSize))
        XCTAssertTrue(range?.contains(flipped) ?? false)
    }

    func testFirstDifferenceIsNilForEqualContent() {
        let data = self.bytes(70_000)
        XCTAssertNil(ContentDigest(bytes: data).firstDifference(in: ContentDigest(bytes: data)))
    }

    func testDescriptionIsSixteenHexDigits() {
        let text = ContentDigest(bytes: [1, 2, 3]).description
        XCTAssertTrue(text.hasPrefix("xxh64:"))
        XCTAssertEqual(text.count, 6 + 16)
    }
}

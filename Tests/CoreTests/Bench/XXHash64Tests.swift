import PohmelfsCore
import XCTest

final class XXHash64Tests: XCTestCase {
    private func hash(_ text: String, seed: UInt64 = 0) -> UInt64 {
        XXHash64.hash(Array(text.utf8), seed: seed)
    }

    func testMatchesPublishedVectorsForShortInputs() {
        // Published XXH64 values (xxhash's documentation and the python-xxhash README).
        XCTAssertEqual(self.hash(""), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(self.hash("a"), 0xD24E_C4F1_A98C_6E5B)
        XCTAssertEqual(self.hash("abc"), 0x44BC_2CF5_AD77_0999)
        XCTAssertEqual(self.hash("xxhash"), 0x32DD_3895_2C4B_C720)
        XCTAssertEqual(self.hash("xxhash", seed: 20_141_025), 0xB559_B98D_844E_0635)
    }

    func testMatchesPublishedVectorForAnInputLongerThanOneStripe() {
        XCTAssertEqual(self.hash("Nobody inspects the spammish repetition"), 0xFBCE_A83C_8A37_8BF1)
    }

    func testEveryInputLengthUpToSeventyIsStableAndDistinct() {
        // Covers every tail path (8-, 4- and 1-byte) on both sides of the 32-byte stripe.
        let bytes = (0..<70).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var seen = Set<UInt64>()
        for length in 0...70 {
            let value = XXHash64.hash(Array(bytes.prefix(length)))
            XCTAssertEqual(value, XXHash64.hash(Array(bytes.prefix(length))))
            seen.insert(value)
        }
        XCTAssertEqual(seen.count, 71)
    }

    func testOneFlippedBitChangesTheHash() {
        var bytes = [UInt8](repeating: 0xAB, count: 4096)
        let original = XXHash64.hash(bytes)
        bytes[2049] ^= 0x10
        XCTAssertNotEqual(XXHash64.hash(bytes), original)
    }
}

import PohmelfsCore
import XCTest

final class ByteRangeTests: XCTestCase {
    func testOverlapAndTouchAreDecidedWithoutOverflow() {
        let cases: [(ByteRange, ByteRange, overlaps: Bool, touches: Bool)] = [
            (ByteRange(0...9), ByteRange(10...19), false, true),
            (ByteRange(0...9), ByteRange(11...19), false, false),
            (ByteRange(0...9), ByteRange(9...19), true, true),
            (ByteRange(0...0), ByteRange(0...0), true, true),
            (ByteRange(0...0), ByteRange(1...1), false, true),
            (ByteRange(.max...(.max)), ByteRange(0...(.max - 1)), false, true),
            (ByteRange(.max...(.max)), ByteRange(0...(.max - 2)), false, false),
            (ByteRange.wholeFile, ByteRange(.max...(.max)), true, true),
            (ByteRange(5...(.max)), ByteRange(0...3), false, false),
            (ByteRange(5...(.max)), ByteRange(0...4), false, true),
        ]
        for (a, b, overlaps, touches) in cases {
            XCTAssertEqual(a.overlaps(b), overlaps, "\(a) overlaps \(b)")
            XCTAssertEqual(b.overlaps(a), overlaps, "\(b) overlaps \(a)")
            XCTAssertEqual(a.touches(b), touches, "\(a) touches \(b)")
            XCTAssertEqual(b.touches(a), touches, "\(b) touches \(a)")
        }
    }

    func testSubtractingLeavesThePiecesOnEitherSide() {
        let range = ByteRange(10...19)
        XCTAssertTrue(range.subtracting(ByteRange(12...15)) == (ByteRange(10...11), ByteRange(16...19)))
        XCTAssertTrue(range.subtracting(ByteRange(0...12)) == (nil, ByteRange(13...19)))
        XCTAssertTrue(range.subtracting(ByteRange(15...(.max))) == (ByteRange(10...14), nil))
        XCTAssertTrue(range.subtracting(ByteRange(10...19)) == (nil, nil))
        XCTAssertTrue(range.subtracting(ByteRange(30...40)) == (range, nil))
        XCTAssertTrue(range.subtracting(ByteRange(0...5)) == (nil, range))
        XCTAssertTrue(ByteRange.wholeFile.subtracting(ByteRange(.max...(.max))) == (ByteRange(0...(.max - 1)), nil))
        XCTAssertTrue(ByteRange.wholeFile.subtracting(ByteRange(0...0)) == (nil, ByteRange(1...(.max))))
    }

    func testOffsetAndLengthFollowStructFlock() throws {
        XCTAssertEqual(try ByteRange(offset: 100, length: 0), ByteRange(100...(.max)))
        XCTAssertEqual(try ByteRange(offset: 100, length: 1), ByteRange(100...100))
        XCTAssertEqual(try ByteRange(offset: 0, length: .max), ByteRange(0...(.max - 1)))
        XCTAssertEqual(try ByteRange(offset: 1, length: .max), ByteRange(1...(.max)))
        XCTAssertThrowsError(try ByteRange(offset: 2, length: .max)) { error in
            XCTAssertEqual((error as? LockError)?.code, .invalidRange)
            XCTAssertEqual((error as? LockError)?.errno, Errno.invalid)
        }
        XCTAssertThrowsError(try ByteRange(validatingStart: 5, end: 4))
    }

    func testPageAlignmentWidensToWholePages() {
        XCTAssertEqual(ByteRange(0...0).pageAligned(), ByteRange(0...4095))
        XCTAssertEqual(ByteRange(4095...4096).pageAligned(), ByteRange(0...8191))
        XCTAssertEqual(ByteRange(8192...12287).pageAligned(), ByteRange(8192...12287))
        XCTAssertEqual(ByteRange(5000...(1 << 20) + 10).pageAligned(), ByteRange(4096...(1 << 20) + 4095))
        XCTAssertEqual(ByteRange((.max - 10)...(.max - 5)).pageAligned(), ByteRange((.max - 4095)...(.max)))
    }

    func testDescriptionIsReadableForTheInspector() {
        XCTAssertEqual(ByteRange.wholeFile.description, "0–EOF")
        XCTAssertEqual(ByteRange(4096...8191).description, "4096–8191")
    }
}

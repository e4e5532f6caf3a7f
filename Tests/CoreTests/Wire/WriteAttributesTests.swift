import NIOCore
import XCTest

@testable import PohmelfsCore

/// WRITE's reply with `writeAttributes`: the attributes follow the count and round-trip; a reply
/// without them is byte for byte the one from before the capability, and one with a torn tail
/// is refused; of two snapshots of a file written by one client, the later one is kept.
final class WriteAttributesTests: XCTestCase {
    func testTheAttributesRoundTripAndAreAbsentUnlessSent() throws {
        let with = WriteResponse(count: 4096, attributes: WireSamples.attributes)
        let decoded = try WriteResponse.decode(payload: encoded(with))
        XCTAssertEqual(decoded.count, 4096)
        XCTAssertEqual(decoded.attributes, WireSamples.attributes)
        let plain = encoded(WriteResponse(count: 4096))
        XCTAssertEqual(plain.readableBytes, 8)
        XCTAssertNil(try WriteResponse.decode(payload: plain).attributes)
    }

    func testATornTailIsRefused() {
        var buffer = encoded(WriteResponse(count: 1, attributes: WireSamples.attributes))
        buffer.moveWriterIndex(to: buffer.writerIndex - 3)
        XCTAssertThrowsError(try WriteResponse.decode(payload: buffer))
    }

    func testTheLaterSnapshotIsKept() {
        var early = WireSamples.attributes
        early.changeTime = Timestamp(seconds: 100, nanoseconds: 5)
        early.size = 10
        var sameTickBigger = early
        sameTickBigger.size = 20
        var later = early
        later.changeTime = Timestamp(seconds: 100, nanoseconds: 6)
        later.size = 15
        XCTAssertEqual(WritebackBuffer.later(nil, early), early)
        XCTAssertEqual(WritebackBuffer.later(early, sameTickBigger), sameTickBigger)
        XCTAssertEqual(WritebackBuffer.later(sameTickBigger, early), sameTickBigger)
        XCTAssertEqual(WritebackBuffer.later(sameTickBigger, later), later)
        XCTAssertEqual(WritebackBuffer.later(later, sameTickBigger), later)
    }
}

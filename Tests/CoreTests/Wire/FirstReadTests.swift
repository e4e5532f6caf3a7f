import NIOCore
import XCTest

@testable import PohmelfsCore

/// OPEN with `firstRead`: the reply's trailing bytes are there only when asked for, so a reply
/// without them is byte for byte the one from before the capability; and `DataChanges` lets a
/// moment through only when no change of the client's own is on its way.
final class FirstReadTests: XCTestCase {
    private func encoded(_ response: OpenResponse) -> ByteBuffer {
        var buffer = ByteBuffer()
        response.encode(into: &buffer)
        return buffer
    }

    func testTheFirstReadRoundTripsAndIsAbsentUnlessAskedFor() throws {
        let bytes = ByteBuffer(bytes: [1, 2, 3, 4, 5])
        for firstRead in [nil, .notRead, .bytes(ByteBuffer()), .bytes(bytes)] as [OpenResponse.FirstRead?] {
            let response = OpenResponse(file: FileHandleID(7), cacheValid: false, firstRead: firstRead)
            XCTAssertEqual(try OpenResponse.decode(payload: self.encoded(response)), response)
        }
        let plain = self.encoded(OpenResponse(file: FileHandleID(7)))
        let notRead = self.encoded(OpenResponse(file: FileHandleID(7), firstRead: .notRead))
        XCTAssertEqual(notRead.readableBytes, plain.readableBytes + 1)
        XCTAssertEqual(notRead.getSlice(at: 0, length: plain.readableBytes), plain)
    }

    func testTooManyBytesAreRefused() {
        var buffer = self.encoded(OpenResponse(file: FileHandleID(7)))
        buffer.writeWire(true)
        buffer.writeWireSlice(ByteBuffer(repeating: 0, count: OpenRequest.firstReadSize + 1))
        XCTAssertThrowsError(try OpenResponse.decode(payload: buffer))
    }

    func testTheFirstReadBitIsNoOpenFlag() {
        let openFlags: [UInt32] = [0o1, 0o2, 0o100, 0o200, 0o1000, 0o2000, 0o40000, 0o4010000, 0o10000000, 0o20200000]
        for flag in openFlags + [OpenRequest.resolvedJustNow, CreateRequest.wantsGrant] {
            XCTAssertEqual(flag & OpenRequest.wantsFirstRead, 0)
        }
    }

    func testAMomentNeedsNoChangeOnItsWay() {
        let changes = DataChanges()
        let moment = changes.now()
        XCTAssertNotNil(moment)
        changes.sending()
        XCTAssertNil(changes.now(), "a change is unanswered")
        XCTAssertFalse(changes.unchanged(since: moment!))
        changes.answered()
        let later = changes.now()
        XCTAssertNotNil(later)
        XCTAssertTrue(changes.unchanged(since: later!))
        changes.heard()
        XCTAssertFalse(changes.unchanged(since: later!), "an INVALIDATE came")
    }
}

import NIOCore
import XCTest

@testable import PohmelfsCore

/// CREATE with `grantOnCreate`: the reply's trailing `granted` is there only when asked for,
/// so a reply without it is byte for byte the one from before the capability.
final class GrantOnCreateTests: XCTestCase {
    private let entry = Entry(
        handle: ObjectHandle(bytes: [9, 8, 7]),
        attributes: FileAttributes(
            inode: 3, size: 0, blocks: 0, accessTime: Timestamp(seconds: 1, nanoseconds: 2),
            modificationTime: Timestamp(seconds: 3, nanoseconds: 4), changeTime: Timestamp(seconds: 5, nanoseconds: 6),
            mode: 0o100600, linkCount: 1, uid: 0, gid: 0, rdev: 0, blockSize: 4096))

    private func encoded(_ response: CreateResponse) -> ByteBuffer {
        var buffer = ByteBuffer()
        response.encode(into: &buffer)
        return buffer
    }

    func testGrantedRoundTripsAndIsAbsentUnlessAskedFor() throws {
        for granted in [nil, false, true] as [Bool?] {
            let response = CreateResponse(entry: self.entry, file: FileHandleID(4), granted: granted)
            XCTAssertEqual(try CreateResponse.decode(payload: self.encoded(response)), response)
        }
        let plain = self.encoded(CreateResponse(entry: self.entry, file: FileHandleID(4)))
        let granted = self.encoded(CreateResponse(entry: self.entry, file: FileHandleID(4), granted: true))
        XCTAssertEqual(granted.readableBytes, plain.readableBytes + 1)
        XCTAssertEqual(granted.getSlice(at: 0, length: plain.readableBytes), plain)
    }

    func testTheGrantBitIsNoOpenFlag() {
        // Linux's open flags, O_TMPFILE (the highest, 0o20200000) included, and OPEN's own bit.
        let openFlags: [UInt32] = [0o1, 0o2, 0o100, 0o200, 0o1000, 0o2000, 0o40000, 0o4010000, 0o10000000, 0o20200000]
        for flag in openFlags + [OpenRequest.resolvedJustNow] { XCTAssertEqual(flag & CreateRequest.wantsGrant, 0) }
    }
}

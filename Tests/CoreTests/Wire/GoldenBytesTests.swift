import NIOCore
import PohmelfsCore
import XCTest

/// Codec test (b) of STYLE guideline 5: the exact bytes of a few messages, written out by hand
/// one field per line, so a codec change that would break old peers cannot pass unnoticed.
/// Every multi-byte integer is little-endian.
final class GoldenBytesTests: XCTestCase {
    /// Checks that `message` encodes to `golden` and that `golden` decodes to `message`.
    private func assertGolden<M: WireMessage>(
        _ message: M, _ golden: [UInt8], file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(Array(encoded(message).readableBytesView), golden, "encoding", file: file, line: line)
        XCTAssertEqual(try M.decode(payload: WireSamples.buffer(golden)), message, "decoding", file: file, line: line)
    }

    func testHeaderGoldenBytes() throws {
        let header = MessageHeader(
            flags: .reply, opcode: .readdir, transaction: TransactionID(0x0102_0304_0506_0708), status: 0x0000_0102,
            payloadLength: 0x0A0B_0C0D)
        let golden: [UInt8] = [
            0x50, 0x48, 0x46, 0x53,  // magic "PHFS"
            0x01,  // version 1
            0x01,  // flags: reply
            0x14, 0x00,  // opcode 20 (READDIR)
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // transaction 0x0102030405060708
            0x02, 0x01, 0x00, 0x00,  // status 0x102
            0x0D, 0x0C, 0x0B, 0x0A,  // payloadLength 0x0A0B0C0D
        ]
        var buffer = ByteBuffer()
        header.encode(into: &buffer)
        XCTAssertEqual(Array(buffer.readableBytesView), golden)
        var input = WireSamples.buffer(golden)
        XCTAssertEqual(try MessageHeader(from: &input), header)
        XCTAssertEqual(ProtocolVersion.magic, 0x5346_4850)
    }

    func testLookupRequestGoldenBytes() {
        let request = LookupRequest(parent: ObjectHandle(bytes: [0xAA, 0xBB, 0xCC]), name: "ab")
        self.assertGolden(
            request,
            [
                0x03, 0x00, 0x00, 0x00,  // parent.length 3
                0xAA, 0xBB, 0xCC,  // parent bytes
                0x02, 0x00, 0x00, 0x00,  // name.length 2
                0x61, 0x62,  // name "ab"
            ])
    }

    func testReadRequestGoldenBytes() {
        let request = ReadRequest(file: FileHandleID(7), offset: 0x1_0000_1000, size: 4096)
        self.assertGolden(
            request,
            [
                0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // file handle id 7
                0x00, 0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // offset 0x100001000
                0x00, 0x10, 0x00, 0x00,  // size 4096
            ])
    }

    func testErrorReplyFrameGoldenBytes() {
        let frame = FrameEncoding.errorReply(
            .noEntry, opcode: .lookup, transaction: TransactionID(0x2A), allocator: ByteBufferAllocator())
        let golden: [UInt8] = [
            0x50, 0x48, 0x46, 0x53,  // magic "PHFS"
            0x01,  // version 1
            0x01,  // flags: reply
            0x02, 0x00,  // opcode 2 (LOOKUP)
            0x2A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // transaction 42
            0x02, 0x00, 0x00, 0x00,  // status ENOENT (2)
            0x00, 0x00, 0x00, 0x00,  // payloadLength 0: an error reply has no payload
        ]
        XCTAssertEqual(Array(frame.readableBytesView), golden)
    }

    func testLookupRequestFrameGoldenBytes() {
        let frame = FrameEncoding.request(
            LookupRequest(parent: ObjectHandle(bytes: [0x01]), name: "x"),
            caller: Caller(uid: 1000, gid: 100, pid: 0x1234, groups: [27]),
            transaction: TransactionID(1), allocator: ByteBufferAllocator())
        let golden: [UInt8] = [
            0x50, 0x48, 0x46, 0x53,  // magic "PHFS"
            0x01,  // version 1
            0x00,  // flags: none (a request)
            0x02, 0x00,  // opcode 2 (LOOKUP)
            0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // transaction 1
            0x00, 0x00, 0x00, 0x00,  // status 0
            0x1C, 0x00, 0x00, 0x00,  // payloadLength 28 (caller 18 + lookup 10)
            0xE8, 0x03, 0x00, 0x00,  // caller.uid 1000
            0x64, 0x00, 0x00, 0x00,  // caller.gid 100
            0x34, 0x12, 0x00, 0x00,  // caller.pid 0x1234
            0x01, 0x00,  // caller.groups.count 1
            0x1B, 0x00, 0x00, 0x00,  // caller.groups[0] 27
            0x01, 0x00, 0x00, 0x00,  // parent.length 1
            0x01,  // parent bytes
            0x01, 0x00, 0x00, 0x00,  // name.length 1
            0x78,  // name "x"
        ]
        XCTAssertEqual(Array(frame.readableBytesView), golden)
    }

    func testSetattrRequestGoldenBytes() {
        let request = SetattrRequest(
            handle: ObjectHandle(bytes: [0x09]), mode: 0o644, accessTime: .now,
            modificationTime: .set(Timestamp(seconds: 2, nanoseconds: 5)))
        self.assertGolden(
            request,
            [
                0x01, 0x00, 0x00, 0x00,  // handle.length 1
                0x09,  // handle bytes
                0xC2, 0x00, 0x00, 0x00,  // fields: mode (1<<1) | atimeNow (1<<6) | mtime (1<<7)
                0xA4, 0x01, 0x00, 0x00,  // mode 0o644
                0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // mtime.seconds 2
                0x05, 0x00, 0x00, 0x00,  // mtime.nanoseconds 5
            ])
    }

    func testDirectoryEntryWithoutEntryGoldenBytes() {
        self.assertGolden(
            DirectoryEntry(name: "..", cookie: 3, inode: 0x10, type: 4, entry: nil),
            [
                0x02, 0x00, 0x00, 0x00,  // name.length 2
                0x2E, 0x2E,  // name ".."
                0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // cookie 3
                0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // inode 16
                0x04,  // type DT_DIR
                0x00,  // hasEntry false
            ])
    }
}

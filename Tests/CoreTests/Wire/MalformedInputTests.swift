import NIOCore
import PohmelfsCore
import XCTest

/// Codec test (c) of STYLE guideline 5: truncated, oversized and unknown input is answered with
/// a specific `WireError`, never a crash and never a value.
final class MalformedInputTests: XCTestCase {
    /// Asserts that `body` throws a `WireError` with `code`.
    private func assertWireError<T>(
        _ code: WireError.Code, _ context: @autoclosure () -> String = "",
        file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
    ) {
        do {
            let value = try body()
            XCTFail("expected \(code), decoded \(value) \(context())", file: file, line: line)
        } catch let error as WireError {
            XCTAssertEqual(error.code, code, "\(error) \(context())", file: file, line: line)
        } catch {
            XCTFail("expected WireError \(code), got \(error) \(context())", file: file, line: line)
        }
    }

    /// A valid 24-byte header with the given fields, as bytes to corrupt.
    private func headerBytes(
        version: UInt8 = 1, flags: UInt8 = 0, opcode: UInt16 = 2, payloadLength: UInt32 = 0
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(ProtocolVersion.magic, endianness: .little)
        buffer.writeInteger(version)
        buffer.writeInteger(flags)
        buffer.writeInteger(opcode, endianness: .little)
        buffer.writeInteger(UInt64(9), endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(payloadLength, endianness: .little)
        return buffer
    }

    // MARK: - Truncation

    func testTruncatedRequestAtEveryLengthThrowsTruncated() {
        for (opcode, sample) in WireSamples.requestSamples {
            let whole = encoded(sample)
            for length in 0..<whole.readableBytes {
                let prefix = whole.getSlice(at: whole.readerIndex, length: length)!
                self.assertWireError(.truncated, "\(opcode) cut at \(length)") {
                    try decode(opcode.descriptor.messageType, payload: prefix)
                }
            }
        }
    }

    func testTruncatedReplyAtEveryLengthThrowsTruncated() {
        for (opcode, sample) in WireSamples.replySamples {
            let whole = encoded(sample)
            for length in 0..<whole.readableBytes {
                let prefix = whole.getSlice(at: whole.readerIndex, length: length)!
                self.assertWireError(.truncated, "\(opcode) reply cut at \(length)") {
                    try decode(opcode.descriptor.replyType!, payload: prefix)
                }
            }
        }
    }

    func testTruncatedCallerAndHeaderThrowTruncated() {
        let caller = encoded(WireSamples.caller)
        for length in 0..<caller.readableBytes {
            var prefix = caller.getSlice(at: 0, length: length)!
            self.assertWireError(.truncated, "caller cut at \(length)") { try Caller(from: &prefix) }
        }
        let header = self.headerBytes()
        for length in 0..<MessageHeader.size {
            var prefix = header.getSlice(at: 0, length: length)!
            self.assertWireError(.truncated, "header cut at \(length)") { try MessageHeader(from: &prefix) }
        }
    }

    func testTruncatedHeaderMakesDecodeFrameWaitForMoreBytes() throws {
        var header = self.headerBytes(payloadLength: 10)
        header.writeBytes([UInt8](repeating: 1, count: 9))
        let whole = header
        for length in 0..<whole.readableBytes {
            var prefix = whole.getSlice(at: 0, length: length)!
            XCTAssertNil(try FrameDecoder().decodeFrame(from: &prefix), "frame cut at \(length)")
            XCTAssertEqual(prefix.readableBytes, length, "an incomplete frame must not be consumed")
        }
    }

    // MARK: - Oversized fields

    func testOversizedNameThrowsInvalidValue() {
        let request = LookupRequest(
            parent: WireSamples.handle, name: FileName(bytes: Array(repeating: 0x61, count: ByteBuffer.wireMaximumName + 1)))
        self.assertWireError(.invalidValue) { try LookupRequest.decode(payload: encoded(request)) }
    }

    func testOversizedBlobThrowsInvalidValue() {
        let request = SetxattrRequest(
            handle: WireSamples.handle, name: Array("user.a".utf8),
            value: Array(repeating: 1, count: ByteBuffer.wireMaximumBlob + 1), flags: 0)
        self.assertWireError(.invalidValue) { try SetxattrRequest.decode(payload: encoded(request)) }
        let reply = XattrResponse(size: 1, value: Array(repeating: 1, count: ByteBuffer.wireMaximumBlob + 1))
        self.assertWireError(.invalidValue) { try XattrResponse.decode(payload: encoded(reply)) }
    }

    func testOversizedHandleThrowsInvalidValue() {
        let request = GetattrRequest(handle: ObjectHandle(bytes: Array(repeating: 7, count: ObjectHandle.maximumSize + 1)))
        self.assertWireError(.invalidValue) { try GetattrRequest.decode(payload: encoded(request)) }
    }

    func testOversizedXattrNameAndSymlinkTargetThrowInvalidValue() {
        let name = Array(repeating: UInt8(0x61), count: XattrResponse.maximumNameLength + 1)
        self.assertWireError(.invalidValue) {
            try GetxattrRequest.decode(payload: encoded(GetxattrRequest(handle: WireSamples.handle, name: name, size: 0)))
        }
        let target = Array(repeating: UInt8(0x61), count: ByteBuffer.wireMaximumName + 1)
        self.assertWireError(.invalidValue) {
            try SymlinkRequest.decode(payload: encoded(SymlinkRequest(parent: WireSamples.handle, name: "l", target: target)))
        }
    }

    func testHugeAnnouncedLengthWithoutBytesThrowsInvalidValueBeforeReading() {
        // A 4 GiB name announced in a 4-byte field: refused by its length, not by running out.
        var payload = encoded(ObjectHandle(bytes: [1]).wireSample)
        payload.writeInteger(UInt32.max, endianness: .little)
        self.assertWireError(.invalidValue) { try LookupRequest.decode(payload: payload) }
    }

    func testTooManyGroupsOrDirectoryEntriesThrowsInvalidValue() {
        var caller = ByteBuffer()
        caller.writeBytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        caller.writeInteger(UInt16(Caller.maximumGroups + 1), endianness: .little)
        self.assertWireError(.invalidValue) { try Caller(from: &caller) }

        var readdir = ByteBuffer()
        readdir.writeInteger(ReaddirRequest.maximumBatch + 1, endianness: .little)
        self.assertWireError(.invalidValue) { try ReaddirResponse.decode(payload: readdir) }
    }

    func testBadBooleanAndNanosecondsThrowInvalidValue() {
        var fsync = encoded(FsyncRequest(file: FileHandleID(1), dataOnly: true))
        fsync.setInteger(UInt8(2), at: 8)
        self.assertWireError(.invalidValue) { try FsyncRequest.decode(payload: fsync) }

        var attributes = encoded(WireSamples.attributes)
        // attr.atime.nanoseconds follows inode, size, blocks (24 bytes) and atime.seconds (8).
        attributes.setInteger(UInt32(1_000_000_000), at: 32, endianness: .little)
        self.assertWireError(.invalidValue) { try FileAttributes.decode(payload: attributes) }
    }

    func testSetattrWithUnknownOrContradictoryFieldsThrowsInvalidValue() {
        let handleLength = 4 + WireSamples.handle.bytes.count
        for fields: UInt32 in [1 << 9, 1 << 31, (1 << 5) | (1 << 6), (1 << 7) | (1 << 8)] {
            var payload = encoded(SetattrRequest(handle: WireSamples.handle))
            payload.setInteger(fields, at: handleLength, endianness: .little)
            self.assertWireError(.invalidValue, "fields 0x\(String(fields, radix: 16))") {
                try SetattrRequest.decode(payload: payload)
            }
        }
    }

    // MARK: - Trailing bytes

    func testTrailingBytesThrowTrailingBytes() {
        for (opcode, sample) in WireSamples.requestSamples {
            var payload = encoded(sample)
            payload.writeInteger(UInt8(0))
            self.assertWireError(.trailingBytes, "\(opcode)") { try decode(opcode.descriptor.messageType, payload: payload) }
        }
        var empty = ByteBuffer()
        empty.writeInteger(UInt8(1))
        self.assertWireError(.trailingBytes) { try EmptyResponse.decode(payload: empty) }
    }

    // MARK: - Headers

    func testBadMagicThrowsBadMagic() {
        var header = self.headerBytes()
        header.setBytes(Array("PHFT".utf8), at: 0)
        self.assertWireError(.badMagic) { try MessageHeader(from: &header) }
        var http = WireSamples.buffer(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        self.assertWireError(.badMagic) { try FrameDecoder().decodeFrame(from: &http) }
    }

    func testBadVersionThrowsUnsupportedVersion() {
        for version: UInt8 in [0, UInt8(ProtocolVersion.current) + 1, 0xFF] {
            var header = self.headerBytes(version: version)
            self.assertWireError(.unsupportedVersion, "version \(version)") { try MessageHeader(from: &header) }
        }
    }

    func testUnknownFlagsThrowInvalidValue() {
        for flags: UInt8 in [1 << 2, 1 << 7, 0xFF] {
            var header = self.headerBytes(flags: flags)
            self.assertWireError(.invalidValue, "flags \(flags)") { try MessageHeader(from: &header) }
        }
    }

    func testUnknownOpcodeThrowsUnknownOpcode() {
        let firstUnusedRequest = Opcode.allCases.map(\.rawValue).filter { $0 < 0x8000 }.max()! + 1
        let firstUnusedNotice = Opcode.allCases.map(\.rawValue).max()! + 1
        for opcode: UInt16 in [0, firstUnusedRequest, 0x7FFF, 0x8000, firstUnusedNotice, 0xFFFF] {
            var header = self.headerBytes(opcode: opcode)
            self.assertWireError(.unknownOpcode, "opcode \(opcode)") { try MessageHeader(from: &header) }
        }
    }

    func testFourGibibytePayloadThrowsFrameTooLargeWithOnlyTheHeaderBuffered() {
        var header = self.headerBytes(payloadLength: UInt32.max)
        XCTAssertEqual(header.readableBytes, 24)
        self.assertWireError(.frameTooLarge) { try FrameDecoder().decodeFrame(from: &header) }
    }

    func testPayloadAtTheCapWaitsAndOneMoreIsTooLarge() throws {
        let decoder = FrameDecoder(maximumPayload: 1000)
        var atCap = self.headerBytes(payloadLength: 1000)
        XCTAssertNil(try decoder.decodeFrame(from: &atCap))
        var overCap = self.headerBytes(payloadLength: 1001)
        self.assertWireError(.frameTooLarge) { try decoder.decodeFrame(from: &overCap) }
    }
}

extension ObjectHandle {
    /// The handle as a `GetattrRequest`, whose payload is exactly the length-prefixed handle.
    fileprivate var wireSample: GetattrRequest { GetattrRequest(handle: self) }
}

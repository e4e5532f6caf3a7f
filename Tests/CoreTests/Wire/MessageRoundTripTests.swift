import NIOCore
import PohmelfsCore
import XCTest

/// Codec test (a) of STYLE guideline 5: every message encodes and decodes back to itself, and
/// consumes exactly the bytes it wrote.
final class MessageRoundTripTests: XCTestCase {
    /// Encodes `message`, decodes it as its own type and checks the result is `==`.
    private func assertRoundTrip<M: WireMessage>(
        _ message: M, file: StaticString = #filePath, line: UInt = #line
    ) {
        var buffer = ByteBuffer()
        message.encode(into: &buffer)
        do {
            let decoded = try M.decode(payload: buffer)
            XCTAssertEqual(decoded, message, file: file, line: line)
        } catch {
            XCTFail("\(M.self) does not decode what it encoded: \(error)", file: file, line: line)
        }
    }

    func testSampleTablesCoverEveryOpcode() {
        XCTAssertEqual(Set(WireSamples.requestSamples.keys), Set(Opcode.allCases), "an opcode has no request sample")
        let answered = Set(Opcode.allCases.filter { $0.descriptor.expectsReply })
        XCTAssertEqual(Set(WireSamples.replySamples.keys), answered, "an answered opcode has no reply sample")
    }

    func testEveryOpcodeDescriptorMessageTypeRoundTripsItsSample() throws {
        for opcode in Opcode.allCases {
            guard let sample = WireSamples.requestSamples[opcode] else {
                XCTFail("\(opcode) has no sample")
                continue
            }
            let descriptor = opcode.descriptor
            XCTAssertTrue(
                type(of: sample) == descriptor.messageType,
                "\(opcode): sample is \(type(of: sample)), table says \(descriptor.messageType)")
            let decoded = try decode(descriptor.messageType, payload: encoded(sample))
            XCTAssertTrue(wireMessagesEqual(decoded, sample), "\(opcode): \(decoded) != \(sample)")
        }
    }

    func testEveryOpcodeDescriptorReplyTypeRoundTripsItsSample() throws {
        for opcode in Opcode.allCases {
            guard let replyType = opcode.descriptor.replyType else {
                XCTAssertEqual(opcode.descriptor.direction, .notice, "\(opcode) is a request without a reply type")
                continue
            }
            guard let sample = WireSamples.replySamples[opcode] else {
                XCTFail("\(opcode) has no reply sample")
                continue
            }
            XCTAssertTrue(type(of: sample) == replyType, "\(opcode): reply sample is \(type(of: sample))")
            let decoded = try decode(replyType, payload: encoded(sample))
            XCTAssertTrue(wireMessagesEqual(decoded, sample), "\(opcode) reply: \(decoded) != \(sample)")
        }
    }

    func testEveryRequestTypeStaticOpcodeMatchesItsTableRow() {
        for (opcode, sample) in WireSamples.requestSamples {
            if let request = sample as? any WireRequest {
                XCTAssertEqual(type(of: request).opcode, opcode)
                XCTAssertEqual(opcode.descriptor.direction, .request)
            } else if let notice = sample as? any WireNotice {
                XCTAssertEqual(type(of: notice).opcode, opcode)
                XCTAssertEqual(opcode.descriptor.direction, .notice)
                XCTAssertGreaterThanOrEqual(opcode.rawValue, 0x8000, "notices live above 0x8000")
            } else {
                XCTFail("\(opcode) sample is neither a request nor a notice")
            }
        }
    }

    func testOpcodeNamesAreUniqueAndUppercase() {
        let names = Opcode.allCases.map { "\($0.descriptor.name)" }
        XCTAssertEqual(Set(names).count, names.count)
        for name in names { XCTAssertEqual(name, name.uppercased()) }
        XCTAssertEqual(Opcode.copyFileRange.description, "COPY_FILE_RANGE")
    }

    func testEveryRequestFrameRoundTripsThroughFrameDecoder() throws {
        for (opcode, sample) in WireSamples.requestSamples {
            guard let request = sample as? any WireRequest else { continue }
            let frameBytes = Self.requestFrame(request, transaction: TransactionID(UInt64(opcode.rawValue) << 32 | 5))
            var input = frameBytes
            let frame = try XCTUnwrap(try FrameDecoder().decodeFrame(from: &input), "\(opcode)")
            XCTAssertEqual(input.readableBytes, 0)
            XCTAssertEqual(frame.header.opcode, opcode)
            XCTAssertEqual(frame.header.flags, [])
            XCTAssertEqual(frame.header.status, 0)
            XCTAssertEqual(frame.header.transaction, TransactionID(UInt64(opcode.rawValue) << 32 | 5))
            XCTAssertEqual(Int(frame.header.payloadLength), frameBytes.readableBytes - MessageHeader.size)
            var payload = frame.payload
            XCTAssertEqual(try Caller(from: &payload), WireSamples.caller)
            let decoded = try decode(opcode.descriptor.messageType, payload: payload)
            XCTAssertTrue(wireMessagesEqual(decoded, sample), "\(opcode)")
        }
    }

    func testReplyAndNoticeFramesCarryTheirFlags() throws {
        let allocator = ByteBufferAllocator()
        var reply = FrameEncoding.reply(
            WireSamples.entry, opcode: .lookup, transaction: TransactionID(3), allocator: allocator)
        let replyFrame = try XCTUnwrap(try FrameDecoder().decodeFrame(from: &reply))
        XCTAssertEqual(replyFrame.header.flags, .reply)
        XCTAssertEqual(try Entry.decode(payload: replyFrame.payload), WireSamples.entry)

        let notice = InvalidateNotice(handle: WireSamples.handle, offset: 1, length: 2)
        var noticeBytes = FrameEncoding.notice(notice, allocator: allocator)
        let noticeFrame = try XCTUnwrap(try FrameDecoder().decodeFrame(from: &noticeBytes))
        XCTAssertEqual(noticeFrame.header.flags, .notice)
        XCTAssertEqual(noticeFrame.header.transaction, .none)
        XCTAssertEqual(noticeFrame.header.opcode, .invalidate)
        XCTAssertEqual(try InvalidateNotice.decode(payload: noticeFrame.payload), notice)

        var error = FrameEncoding.errorReply(.stale, opcode: .getattr, transaction: TransactionID(4), allocator: allocator)
        let errorFrame = try XCTUnwrap(try FrameDecoder().decodeFrame(from: &error))
        XCTAssertEqual(errorFrame.header.status, UInt32(ESTALE))
        XCTAssertEqual(errorFrame.header.payloadLength, 0)
        XCTAssertEqual(errorFrame.payload.readableBytes, 0)
    }

    func testHeaderRoundTripsWithEveryFlagCombination() throws {
        let flags: [MessageHeader.Flags] = [[], .reply, .notice, [.reply, .notice]]
        for flag in flags {
            for opcode in Opcode.allCases {
                let header = MessageHeader(
                    flags: flag, opcode: opcode, transaction: TransactionID(.max - UInt64(opcode.rawValue)),
                    status: UInt32(opcode.rawValue) * 3, payloadLength: 0xFFFF_FFFF)
                var buffer = ByteBuffer()
                header.encode(into: &buffer)
                XCTAssertEqual(buffer.readableBytes, MessageHeader.size)
                XCTAssertEqual(try MessageHeader(from: &buffer), header)
                XCTAssertEqual(buffer.readableBytes, 0)
            }
        }
    }

    func testFileAttributesEntryAndCallerRoundTrip() {
        self.assertRoundTrip(WireSamples.attributes)
        self.assertRoundTrip(WireSamples.directoryAttributes)
        self.assertRoundTrip(WireSamples.entry)
        self.assertRoundTrip(Entry(handle: ObjectHandle(bytes: []), attributes: WireSamples.attributes))
        self.assertRoundTrip(
            Entry(handle: ObjectHandle(bytes: Array(repeating: 0xEE, count: ObjectHandle.maximumSize)),
                  attributes: WireSamples.attributes))
        self.assertRoundTrip(WireSamples.caller)
        self.assertRoundTrip(Caller.root)
        self.assertRoundTrip(Caller(uid: .max, gid: .max, pid: .max, groups: (0..<UInt32(Caller.maximumGroups)).map { $0 }))
    }

    func testDirectoryEntryRoundTripsWithAndWithoutEntry() {
        self.assertRoundTrip(DirectoryEntry(name: ".", cookie: 1, inode: 2, type: 4, entry: nil))
        self.assertRoundTrip(DirectoryEntry(name: "f", cookie: .max, inode: .max, type: 8, entry: WireSamples.entry))
        self.assertRoundTrip(WireSamples.readdirReply)
        self.assertRoundTrip(ReaddirResponse(entries: [], isEnd: false))
        self.assertRoundTrip(ReaddirResponse(entries: [], isEnd: true))
    }

    func testSetattrRoundTripsEveryFieldCombination() {
        let times: [TimeUpdate?] = [nil, .now, .set(Timestamp(seconds: 1_234_567_890, nanoseconds: 987_654_321))]
        var combinations = 0
        for mask in 0..<32 {
            for accessTime in times {
                for modificationTime in times {
                    let request = SetattrRequest(
                        handle: WireSamples.handle,
                        file: mask & 1 != 0 ? FileHandleID(41) : nil,
                        mode: mask & 2 != 0 ? 0o7777 : nil,
                        uid: mask & 4 != 0 ? 65534 : nil,
                        gid: mask & 8 != 0 ? 65533 : nil,
                        size: mask & 16 != 0 ? 0x7FFF_FFFF_FFFF_FFFF : nil,
                        accessTime: accessTime,
                        modificationTime: modificationTime)
                    self.assertRoundTrip(request)
                    combinations += 1
                }
            }
        }
        XCTAssertEqual(combinations, 288)
    }

    func testSetattrDistinguishesZeroFromAbsent() throws {
        let zeroes = SetattrRequest(
            handle: WireSamples.handle, file: FileHandleID(0), mode: 0, uid: 0, gid: 0, size: 0,
            accessTime: .set(Timestamp(seconds: 0, nanoseconds: 0)), modificationTime: .set(Timestamp(seconds: 0, nanoseconds: 0)))
        let decoded = try SetattrRequest.decode(payload: encoded(zeroes))
        XCTAssertEqual(decoded, zeroes)
        XCTAssertNotEqual(decoded, SetattrRequest(handle: WireSamples.handle))
    }

    func testNoticesRoundTrip() {
        self.assertRoundTrip(InvalidateNotice(handle: WireSamples.handle, offset: .max, length: 0))
        self.assertRoundTrip(LockGrantedNotice(transaction: TransactionID(.max)))
    }

    func testEdgeValuesRoundTrip() {
        self.assertRoundTrip(LookupRequest(parent: WireSamples.handle, name: FileName(bytes: [])))
        self.assertRoundTrip(
            LookupRequest(parent: WireSamples.handle, name: FileName(bytes: Array(repeating: 0x61, count: ByteBuffer.wireMaximumName))))
        self.assertRoundTrip(WriteRequest(file: FileHandleID(1), offset: 0, data: ByteBuffer()))
        self.assertRoundTrip(ReadResponse(data: ByteBuffer()))
        self.assertRoundTrip(
            SetxattrRequest(
                handle: WireSamples.handle, name: Array(repeating: 0x78, count: XattrResponse.maximumNameLength),
                value: Array(repeating: 0, count: ByteBuffer.wireMaximumBlob), flags: 2))
        self.assertRoundTrip(XattrResponse(size: 0, value: []))
        for flags in [RenameRequest.Flags(), .noReplace, .exchange] {
            self.assertRoundTrip(
                RenameRequest(
                    oldParent: WireSamples.handle, oldName: "a", newParent: WireSamples.handle, newName: "b", flags: flags))
        }
        self.assertRoundTrip(EmptyResponse())
        XCTAssertEqual(encoded(EmptyResponse()).readableBytes, 0)
    }

    /// The bytes `FrameEncoding.request` produces for an existential request, as the sample caller.
    private static func requestFrame(_ request: any WireRequest, transaction: TransactionID) -> ByteBuffer {
        func frame<R: WireRequest>(_ request: R) -> ByteBuffer {
            FrameEncoding.request(request, caller: WireSamples.caller, transaction: transaction, allocator: ByteBufferAllocator())
        }
        return frame(request)
    }
}

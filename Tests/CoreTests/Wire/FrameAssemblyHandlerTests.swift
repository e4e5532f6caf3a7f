import NIOCore
import NIOEmbedded
import PohmelfsCore
import XCTest

/// `FrameAssemblyHandler` in a pipeline: drip-fed, batched and garbage input, and the progress
/// events the server times stalled clients by.
final class FrameAssemblyHandlerTests: XCTestCase {
    /// A request frame for `request` and the `Frame` the decoder must produce from it.
    private func pair<R: WireRequest>(_ request: R, transaction: UInt64) -> (ByteBuffer, [Frame]) {
        let bytes = FrameEncoding.request(
            request, caller: WireSamples.caller, transaction: TransactionID(transaction), allocator: ByteBufferAllocator())
        var payload = ByteBuffer()
        WireSamples.caller.encode(into: &payload)
        request.encode(into: &payload)
        let header = MessageHeader(
            opcode: R.opcode, transaction: TransactionID(transaction), payloadLength: UInt32(payload.readableBytes))
        return (bytes, [Frame(header: header, payload: payload)])
    }

    func testDripFedAndBatchedInputGivesTheSameFrames() throws {
        let allocator = ByteBufferAllocator()
        var pairs: [(ByteBuffer, [Frame])] = [
            self.pair(LookupRequest(parent: WireSamples.handle, name: "a"), transaction: 1),
            self.pair(ReadRequest(file: FileHandleID(3), offset: 4, size: 5), transaction: 2),
            self.pair(WriteRequest(file: FileHandleID(3), offset: 0, data: WireSamples.data(3000)), transaction: 3),
            self.pair(StatfsRequest(handle: WireSamples.handle), transaction: .max),
        ]
        // An empty-payload frame (an error reply) and two frames arriving in one buffer.
        let error = FrameEncoding.errorReply(.noEntry, opcode: .lookup, transaction: TransactionID(9), allocator: allocator)
        pairs.append(
            (
                error,
                [
                    Frame(
                        header: MessageHeader(
                            flags: .reply, opcode: .lookup, transaction: TransactionID(9), status: UInt32(ENOENT)),
                        payload: ByteBuffer())
                ]
            ))
        let notice = InvalidateNotice(handle: WireSamples.handle, offset: 0, length: 10)
        var twoFrames = FrameEncoding.notice(notice, allocator: allocator)
        var second = FrameEncoding.reply(WriteResponse(count: 5), opcode: .write, transaction: TransactionID(3), allocator: allocator)
        twoFrames.writeBuffer(&second)
        pairs.append(
            (
                twoFrames,
                [
                    Frame(
                        header: MessageHeader(
                            flags: .notice, opcode: .invalidate, transaction: .none,
                            payloadLength: UInt32(encoded(notice).readableBytes)),
                        payload: encoded(notice)),
                    Frame(
                        header: MessageHeader(flags: .reply, opcode: .write, transaction: TransactionID(3), payloadLength: 8),
                        payload: encoded(WriteResponse(count: 5))),
                ]
            ))
        for (bytes, expected) in pairs {
            // Whole, then one byte at a time, then all pairs' bytes in one buffer below.
            XCTAssertEqual(try self.frames(fedAs: [bytes]), expected)
            let drips = (0..<bytes.readableBytes).map { bytes.getSlice(at: bytes.readerIndex + $0, length: 1)! }
            XCTAssertEqual(try self.frames(fedAs: drips), expected)
        }
        var all = ByteBuffer()
        for (bytes, _) in pairs { all.writeImmutableBuffer(bytes) }
        XCTAssertEqual(try self.frames(fedAs: [all]), pairs.flatMap(\.1))
    }

    func testGarbageInputErrorsTheChannel() throws {
        let channel = EmbeddedChannel(handler: FrameAssemblyHandler())
        var garbage = ByteBuffer()
        garbage.writeBytes((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) })
        XCTAssertThrowsError(try channel.writeInbound(garbage)) { error in
            XCTAssertEqual((error as? WireError)?.code, .badMagic)
        }
        XCTAssertNil(try channel.readInbound(as: Frame.self))
        _ = try? channel.finish()
    }

    func testOversizedAnnouncementErrorsTheChannelBeforeThePayloadArrives() throws {
        let channel = EmbeddedChannel(handler: FrameAssemblyHandler(maximumPayload: 64))
        var header = ByteBuffer()
        MessageHeader(opcode: .write, transaction: TransactionID(1), payloadLength: 65).encode(into: &header)
        XCTAssertThrowsError(try channel.writeInbound(header)) { error in
            XCTAssertEqual((error as? WireError)?.code, .frameTooLarge)
        }
        _ = try? channel.finish()
    }

    func testCloseInsideAFrameThrowsTruncated() throws {
        let channel = EmbeddedChannel(handler: FrameAssemblyHandler())
        var bytes = FrameEncoding.request(
            StatfsRequest(handle: WireSamples.handle), caller: .root, transaction: TransactionID(1),
            allocator: channel.allocator)
        bytes.moveWriterIndex(to: bytes.writerIndex - 1)
        XCTAssertNoThrow(try channel.writeInbound(bytes))
        XCTAssertNil(try channel.readInbound(as: Frame.self))
        XCTAssertThrowsError(try channel.finish()) { error in
            XCTAssertEqual((error as? WireError)?.code, .truncated)
        }
    }

    func testFramesAfterAGoodOneAreStillDeliveredInOrder() throws {
        let channel = EmbeddedChannel(handler: FrameAssemblyHandler())
        var bytes = ByteBuffer()
        for id in 1...5 {
            var frame = FrameEncoding.request(
                ReleaseRequest(file: FileHandleID(UInt64(id))), caller: .root, transaction: TransactionID(UInt64(id)),
                allocator: channel.allocator)
            bytes.writeBuffer(&frame)
        }
        try channel.writeInbound(bytes)
        for id in 1...5 {
            let frame = try XCTUnwrap(try channel.readInbound(as: Frame.self))
            XCTAssertEqual(frame.header.transaction, TransactionID(UInt64(id)))
            var payload = frame.payload
            _ = try Caller(from: &payload)
            XCTAssertEqual(try ReleaseRequest.decode(payload: payload).file, FileHandleID(UInt64(id)))
        }
        XCTAssertNil(try channel.readInbound(as: Frame.self))
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testProgressEventsSayWhenAFrameIsLeftHalfReceived() throws {
        let events = ProgressRecorder()
        let channel = EmbeddedChannel(handlers: [FrameAssemblyHandler(reportsProgress: true), events])
        let frame = FrameEncoding.request(
            StatfsRequest(handle: WireSamples.handle), caller: .root, transaction: TransactionID(1),
            allocator: channel.allocator)
        let cut = frame.readableBytes / 2
        try channel.writeInbound(frame.getSlice(at: 0, length: cut)!)
        XCTAssertEqual(events.seen, [.partial])
        // The rest, and half of the next frame: the finished frame restarts the clock.
        var rest = frame.getSlice(at: cut, length: frame.readableBytes - cut)!
        rest.writeImmutableBuffer(frame.getSlice(at: 0, length: cut)!)
        try channel.writeInbound(rest)
        XCTAssertEqual(events.seen, [.partial, .complete, .partial])
        try channel.writeInbound(frame.getSlice(at: cut, length: frame.readableBytes - cut)!)
        XCTAssertEqual(events.seen, [.partial, .complete, .partial, .complete])
        XCTAssertNotNil(try channel.readInbound(as: Frame.self))
        XCTAssertNotNil(try channel.readInbound(as: Frame.self))
        XCTAssertTrue(try channel.finish().isClean)
    }

    /// Feeds `reads` to a fresh handler, one `channelRead` each, and returns the frames.
    private func frames(fedAs reads: [ByteBuffer]) throws -> [Frame] {
        let channel = EmbeddedChannel(handler: FrameAssemblyHandler())
        for read in reads { try channel.writeInbound(read) }
        var frames: [Frame] = []
        while let frame = try channel.readInbound(as: Frame.self) { frames.append(frame) }
        XCTAssertTrue(try channel.finish().isClean)
        return frames
    }
}

/// Records the `FrameProgress` events that reach it.
private final class ProgressRecorder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    var seen: [FrameProgress] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let progress = event as? FrameProgress { self.seen.append(progress) }
    }
}

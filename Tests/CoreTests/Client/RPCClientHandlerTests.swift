import NIOCore
import NIOEmbedded
@testable import PohmelfsCore
import Synchronization
import XCTest

/// `RPCClientHandler` in an `EmbeddedChannel` behind the real `FrameAssemblyHandler`: replies are
/// matched by id, and every way the connection can fail answers every request exactly once.
final class RPCClientHandlerTests: XCTestCase {
    /// Collects what completions and notices receive (they are `@Sendable`; the embedded loop
    /// runs them on this thread).
    final class Recorder: Sendable {
        let results = Mutex<[UInt64: [Result<Frame, ClientError>]]>([:])
        let notices = Mutex<[Frame]>([])

        /// A completion that records its result under `id`.
        func completion(_ id: UInt64) -> OutboundRequest.Completion {
            { result in self.results.withLock { $0[id, default: []].append(result) } }
        }

        /// Every result recorded for `id`.
        func results(_ id: UInt64) -> [Result<Frame, ClientError>] { self.results.withLock { $0[id] ?? [] } }
    }

    private var recorder: Recorder!
    private var channel: EmbeddedChannel!

    /// Synchronous, so the channel is made on the thread the tests run on: an embedded loop may
    /// be used only from its own thread (an `async` setUp runs elsewhere, and NIO says so).
    override func setUpWithError() throws {
        let recorder = Recorder()
        self.recorder = recorder
        self.channel = EmbeddedChannel()
        try self.channel.pipeline.syncOperations.addHandler(FrameAssemblyHandler())
        try self.channel.pipeline.syncOperations.addHandler(
            RPCClientHandler(onNotice: { frame in recorder.notices.withLock { $0.append(frame) } }))
        self.channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 1), promise: nil)
        XCTAssertTrue(self.channel.isActive)
    }

    override func tearDown() {
        _ = try? self.channel.finish()
        self.channel = nil
        self.recorder = nil
    }

    /// Writes a GETATTR request with transaction `id` through the handler; returns the write's future.
    @discardableResult
    private func send(_ id: UInt64) -> EventLoopFuture<Void> {
        let frame = FrameEncoding.request(
            GetattrRequest(handle: WireSamples.handle), caller: .root, transaction: TransactionID(id),
            allocator: self.channel.allocator)
        let request = OutboundRequest(transaction: TransactionID(id), frame: frame, completion: self.recorder.completion(id))
        return self.channel.writeAndFlush(request)
    }

    /// Delivers a successful GETATTR reply with transaction `id` and attributes of `inode`.
    private func reply(_ id: UInt64, inode: UInt64) throws {
        var attributes = WireSamples.attributes
        attributes.inode = inode
        try self.channel.writeInbound(
            FrameEncoding.reply(attributes, opcode: .getattr, transaction: TransactionID(id), allocator: self.channel.allocator))
    }

    /// The inode in the single successful reply recorded for `id`.
    private func repliedInode(_ id: UInt64, file: StaticString = #filePath, line: UInt = #line) throws -> UInt64 {
        let results = self.recorder.results(id)
        XCTAssertEqual(results.count, 1, "completion of \(id) ran \(results.count) times", file: file, line: line)
        let frame = try XCTUnwrap(try results.first?.get(), file: file, line: line)
        XCTAssertEqual(frame.header.transaction, TransactionID(id), file: file, line: line)
        return try FileAttributes.decode(payload: frame.payload).inode
    }

    /// The code of the single failure recorded for `id`.
    private func failureCode(_ id: UInt64) -> ClientError.Code? {
        let results = self.recorder.results(id)
        XCTAssertEqual(results.count, 1, "completion of \(id) ran \(results.count) times")
        guard case .failure(let error)? = results.first else { return nil }
        return error.code
    }

    func testRequestFrameIsWrittenUnchanged() throws {
        self.send(42)
        let written = try XCTUnwrap(try self.channel.readOutbound(as: ByteBuffer.self))
        var bytes = written
        let frame = try XCTUnwrap(try FrameDecoder().decodeFrame(from: &bytes))
        XCTAssertEqual(frame.header.transaction, TransactionID(42))
        XCTAssertEqual(frame.header.opcode, .getattr)
    }

    func testRepliesAreMatchedByIDInAnyOrder() throws {
        for id: UInt64 in [1, 2, 3] { self.send(id) }
        try self.reply(3, inode: 300)
        try self.reply(1, inode: 100)
        XCTAssertTrue(self.recorder.results(2).isEmpty)
        try self.reply(2, inode: 200)
        XCTAssertEqual(try self.repliedInode(1), 100)
        XCTAssertEqual(try self.repliedInode(2), 200)
        XCTAssertEqual(try self.repliedInode(3), 300)
        XCTAssertTrue(self.channel.isActive)
    }

    func testErrorReplyIsDeliveredToItsRequest() throws {
        self.send(5)
        try self.channel.writeInbound(
            FrameEncoding.errorReply(.noEntry, opcode: .getattr, transaction: TransactionID(5), allocator: self.channel.allocator))
        let frame = try XCTUnwrap(try self.recorder.results(5).first?.get())
        XCTAssertEqual(frame.header.status, UInt32(ENOENT))
    }

    func testUnknownIDClosesChannelAndFailsAllOutstanding() throws {
        for id: UInt64 in [1, 2] { self.send(id) }
        try self.reply(99, inode: 1)
        XCTAssertFalse(self.channel.isActive)
        XCTAssertEqual(self.failureCode(1), .protocolViolation)
        XCTAssertEqual(self.failureCode(2), .protocolViolation)
    }

    func testDuplicateReplyIsAProtocolViolation() throws {
        for id: UInt64 in [1, 2] { self.send(id) }
        try self.reply(1, inode: 10)
        try self.reply(1, inode: 11)
        XCTAssertFalse(self.channel.isActive)
        XCTAssertEqual(try self.repliedInode(1), 10)
        XCTAssertEqual(self.failureCode(2), .protocolViolation)
    }

    func testRequestFrameFromServerIsAProtocolViolation() throws {
        self.send(1)
        // A frame without the reply flag: the server may not send requests.
        try self.channel.writeInbound(
            FrameEncoding.request(
                StatfsRequest(handle: WireSamples.handle), caller: .root, transaction: TransactionID(1),
                allocator: self.channel.allocator))
        XCTAssertFalse(self.channel.isActive)
        XCTAssertEqual(self.failureCode(1), .protocolViolation)
    }

    func testGarbageFromServerFailsAllOutstandingAsProtocolViolation() throws {
        self.send(1)
        // The handler consumes the decoder's error: it fails the requests and closes, nothing propagates.
        XCTAssertNoThrow(try self.channel.writeInbound(WireSamples.buffer(Array("garbage that is not a frame".utf8))))
        XCTAssertFalse(self.channel.isActive)
        XCTAssertEqual(self.failureCode(1), .protocolViolation)
    }

    func testChannelInactiveFailsAllOutstanding() throws {
        for id: UInt64 in 1...10 { self.send(id) }
        try self.reply(4, inode: 4)
        try self.channel.close().wait()
        XCTAssertEqual(try self.repliedInode(4), 4)
        for id: UInt64 in 1...10 where id != 4 {
            XCTAssertEqual(self.failureCode(id), .connectionClosed, "request \(id)")
        }
    }

    func testWritesAfterInactiveFailImmediately() throws {
        self.send(1)
        XCTAssertNotNil(try self.channel.readOutbound(as: ByteBuffer.self))
        self.channel.pipeline.syncOperations.fireChannelInactive()
        XCTAssertEqual(self.failureCode(1), .connectionClosed)
        let write = self.send(2)
        XCTAssertEqual(self.failureCode(2), .connectionClosed, "a request after the close fails at once")
        XCTAssertThrowsError(try write.wait())
        XCTAssertNil(try self.channel.readOutbound(as: ByteBuffer.self), "nothing is written for a failed request")
    }

    func testWritesAfterProtocolViolationFailWithThatReason() throws {
        self.send(1)
        try self.reply(77, inode: 1)
        XCTAssertEqual(self.failureCode(1), .protocolViolation)
        // The handler is still in the pipeline until the embedded loop runs the removal.
        let write = self.send(2)
        XCTAssertThrowsError(try write.wait())
        XCTAssertEqual(self.recorder.results(2).count, 1)
    }

    func testNoticesGoToTheNoticeCallbackAndLeaveRequestsWaiting() throws {
        self.send(1)
        let notice = InvalidateNotice(handle: WireSamples.handle, offset: 0, length: 0)
        try self.channel.writeInbound(FrameEncoding.notice(notice, allocator: self.channel.allocator))
        let received = self.recorder.notices.withLock { $0 }
        XCTAssertEqual(received.count, 1)
        XCTAssertEqual(try InvalidateNotice.decode(payload: received[0].payload), notice)
        XCTAssertTrue(self.recorder.results(1).isEmpty)
        XCTAssertTrue(self.channel.isActive)
        try self.reply(1, inode: 1)
        XCTAssertEqual(try self.repliedInode(1), 1)
    }
}

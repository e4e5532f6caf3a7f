import NIOCore
import NIOPosix
@testable import PohmelfsCore
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Exclusive write-back grants against a real server: granted to a session alone with the file,
/// refused while another has it open, recalled before another session opens or reads the file,
/// and taken away from a holder that does not answer in time.
final class WritebackGrantTests: XCTestCase {
    /// Notices a client received, and what it answers to RECALL.
    final class NoticeLog: Sendable {
        let frames = Mutex<[Frame]>([])
        let onRecall = Mutex<(@Sendable (TransactionID) -> Void)?>(nil)

        func receive(_ frame: Frame) {
            self.frames.withLock { $0.append(frame) }
            if frame.header.opcode == .recall, let answer = self.onRecall.withLock({ $0 }) {
                answer(frame.header.transaction)
            }
        }

        var recalls: Int { self.frames.withLock { $0.filter { $0.header.opcode == .recall }.count } }
    }

    private func connect(_ server: LiveServer, _ log: NoticeLog) async throws -> RPCClient {
        try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: server.port)], clientName: "grant-test", group: MultiThreadedEventLoopGroup.singleton,
            onNotice: { log.receive($0) })
    }

    func testAHolderIsRecalledBeforeAnotherSessionOpensTheFile() async throws {
        try await LiveServer.with { server, _ in try await self.recallBeforeOpen(server) }
    }

    private func recallBeforeOpen(_ server: LiveServer) async throws {
        let holderLog = NoticeLog()
        let holder = try await self.connect(server, holderLog)
        let other = try await self.connect(server, NoticeLog())
        let created = try await holder.createFile(FileName("f"), contents: [1, 2, 3])
        let grant = try await holder.call(WritebackGrantRequest(file: created.file))
        XCTAssertTrue(grant.granted)

        // The holder writes back (here: one more WRITE) and then gives the grant back.
        holderLog.onRecall.withLock {
            $0 = { id in
                var data = ByteBuffer()
                data.writeBytes([9, 9])
                holder.send(WriteRequest(file: created.file, offset: 3, data: data), caller: .root) { _ in
                    holder.send(GrantReleaseRequest(notice: id), caller: .root) { _ in }
                }
            }
        }
        let opened = try await other.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDONLY)))
        XCTAssertEqual(holderLog.recalls, 1)
        // The open waited for the recall, so the reader sees the bytes the holder had buffered.
        let bytes = try await other.readBytes(opened.file)
        XCTAssertEqual(bytes, [1, 2, 3, 9, 9])

        // While the other session has the file open, the grant is refused.
        let again = try await holder.call(WritebackGrantRequest(file: created.file))
        XCTAssertFalse(again.granted)
        _ = try await other.call(ReleaseRequest(file: opened.file))
        let afterClose = try await holder.call(WritebackGrantRequest(file: created.file))
        XCTAssertTrue(afterClose.granted)
        await holder.close()
        await other.close()
    }

    func testAHolderThatDoesNotAnswerLosesTheGrantAndTheReaderGoesAhead() async throws {
        try await LiveServer.with(configure: { $0.invalidationTimeout = .milliseconds(300) }) { server, _ in
            try await self.silentHolder(server)
        }
    }

    private func silentHolder(_ server: LiveServer) async throws {
        let holderLog = NoticeLog()
        let otherLog = NoticeLog()
        let holder = try await self.connect(server, holderLog)
        let other = try await self.connect(server, otherLog)
        let created = try await holder.createFile(FileName("f"), contents: [1])
        let grant = try await holder.call(WritebackGrantRequest(file: created.file))
        XCTAssertTrue(grant.granted)
        // The holder never answers the RECALL.
        let opened = try await other.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDWR)))
        XCTAssertEqual(holderLog.recalls, 1)
        // The grant is gone: the other session, now alone once the holder closes, can have it.
        _ = try await holder.call(ReleaseRequest(file: created.file))
        let taken = try await other.call(WritebackGrantRequest(file: opened.file))
        XCTAssertTrue(taken.granted)
        // The old holder's late writes still land (nothing is dropped), after a recall.
        otherLog.onRecall.withLock { $0 = { id in other.send(GrantReleaseRequest(notice: id), caller: .root) { _ in } } }
        let reopened = try await holder.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDWR)))
        try await holder.write([7], to: reopened.file)
        XCTAssertEqual(otherLog.recalls, 1)
        let bytes = try await other.readBytes(opened.file)
        XCTAssertEqual(bytes, [7])
        await holder.close()
        await other.close()
    }

    func testGrantsAreRefusedWhenInvalidationIsOff() async throws {
        try await LiveServer.with(configure: { $0.invalidation = false }) { _, client in
            let created = try await client.createFile(FileName("f"))
            let grant = try await client.call(WritebackGrantRequest(file: created.file))
            XCTAssertFalse(grant.granted)
        }
    }
}

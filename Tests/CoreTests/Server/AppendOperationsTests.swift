import NIOCore
import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// APPEND: the server writes at its own end of file and says where; a resent copy is answered
/// from the reply cache, never appended twice.
final class AppendOperationsTests: XCTestCase {
    private func append(_ bytes: [UInt8], to file: FileHandleID, _ client: RPCClient) async throws -> AppendResponse {
        try await client.call(AppendRequest(file: file, data: ByteBuffer(bytes: bytes)))
    }

    func testTheServerAdvertisesAtomicAppend() async throws {
        try await LiveServer.with { _, client in
            XCTAssertTrue(client.hello.capabilities.contains(.atomicAppend))
        }
    }

    func testAppendsFromTwoClientsLandOneAfterTheOtherAtTheServersEnd() async throws {
        try await LiveServer.with { live, first in
            let second = try await live.connect(name: "second")
            let created = try await first.createFile("log", contents: [1, 2, 3])
            let mine = try await first.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_WRONLY | O_APPEND)))
            let theirs = try await second.call(
                OpenRequest(handle: created.entry.handle, flags: UInt32(O_WRONLY | O_APPEND)))
            let a = try await self.append([4, 5], to: mine.file, first)
            XCTAssertEqual(a, AppendResponse(offset: 3, count: 2))
            let b = try await self.append([6], to: theirs.file, second)
            XCTAssertEqual(b, AppendResponse(offset: 5, count: 1))
            // A handle opened without O_APPEND appends too when it asks to.
            let c = try await self.append([7, 8], to: created.file, first)
            XCTAssertEqual(c, AppendResponse(offset: 6, count: 2))
            XCTAssertEqual(try onDiskContents(live.path("log")), [1, 2, 3, 4, 5, 6, 7, 8])
        }
    }

    func testManyConcurrentAppendsStayWholeAndAccountForEveryByte() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("log")
            let records = 64
            let offsets = try await withThrowingTaskGroup(of: (Int, AppendResponse).self) { group in
                for index in 0..<records {
                    group.addTask {
                        let record = [UInt8](repeating: UInt8(index), count: 1000 + index * 37)
                        let data = ByteBuffer(bytes: record)
                        return (index, try await client.call(AppendRequest(file: created.file, data: data)))
                    }
                }
                var landed: [Int: AppendResponse] = [:]
                for try await (index, response) in group { landed[index] = response }
                return landed
            }
            let contents = try onDiskContents(live.path("log"))
            XCTAssertEqual(contents.count, (0..<records).reduce(0) { $0 + 1000 + $1 * 37 })
            for (index, response) in offsets {
                let range = Int(response.offset)..<Int(response.offset + response.count)
                XCTAssertEqual(response.count, UInt64(1000 + index * 37))
                XCTAssertTrue(contents[range].allSatisfy { $0 == UInt8(index) }, "record \(index) is not whole")
            }
        }
    }

    func testAppendIsReplayUnsafeSoAResentCopyIsAnsweredFromTheReplyCache() async throws {
        XCTAssertTrue(Opcode.append.isReplayUnsafe)
        try await LiveServer.with { live, client in
            let created = try await client.createFile("log", contents: [1])
            let raw = try await RawConnection.connect(port: live.port)
            defer { Task { await raw.close() } }
            _ = try await raw.hello()
            // The raw connection's own open file, then the same APPEND twice (a resend).
            try await raw.send(
                FrameEncoding.request(
                    OpenRequest(handle: created.entry.handle, flags: UInt32(O_WRONLY | O_APPEND)), caller: .root,
                    transaction: TransactionID(2), allocator: raw.channel.allocator))
            let opened = try await self.frame(2, from: raw)
            let file = try OpenResponse.decode(payload: opened.payload).file
            let append = AppendRequest(file: file, data: ByteBuffer(bytes: [9, 9, 9]))
            // The second copy once the first is answered (a copy sent while the first is still
            // being performed gets no reply of its own).
            for copies in 1...2 {
                try await raw.send(
                    FrameEncoding.request(
                        append, caller: .root, transaction: TransactionID(3), allocator: raw.channel.allocator))
                try await withDeadline(.seconds(5), "APPEND reply \(copies)") {
                    while raw.receivedFrames.filter({ $0.header.transaction == TransactionID(3) }).count < copies {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
            }
            let replies = raw.receivedFrames.filter { $0.header.transaction == TransactionID(3) }
            for reply in replies {
                XCTAssertEqual(try AppendResponse.decode(payload: reply.payload), AppendResponse(offset: 1, count: 3))
            }
            XCTAssertEqual(try onDiskContents(live.path("log")), [1, 9, 9, 9], "appended once")
        }
    }

    private func frame(_ transaction: UInt64, from raw: RawConnection) async throws -> Frame {
        try await withDeadline(.seconds(5), "reply \(transaction)") {
            while true {
                if let frame = raw.receivedFrames.first(where: { $0.header.transaction == TransactionID(transaction) }) {
                    return frame
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }
}

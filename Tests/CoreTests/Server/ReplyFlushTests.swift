import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// The server writes the replies of one turn of a connection's event loop with one flush:
/// replay-unsafe ones (kept in the reply cache, e.g. SETATTR) as well as the others. A flush per
/// reply is a `write(2)` each, and on loopback each also wakes the client.
final class ReplyFlushTests: XCTestCase {
    /// Write-family system calls of this process so far (`syscw` of /proc/self/io): the server
    /// under test runs in it, so its socket writes are counted here.
    private func writeCalls() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/io", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("syscw:") }),
            let count = Int(line.dropFirst("syscw:".count).trimmingCharacters(in: .whitespaces))
        else { throw XCTSkip("/proc/self/io has no syscw here") }
        return count
    }

    func testRepliesToReplayUnsafeRequestsReadTogetherLeaveTogether() async throws {
        let live = try await LiveServer.start()
        let raw = try await RawConnection.connect(port: live.port)
        try await live.cleaningUp(raw) {
            let reply = try await raw.hello()
            XCTAssertEqual(reply.header.status, 0)
            let root = try HelloResponse.decode(payload: reply.payload).root.handle
            let count = 50
            // SETATTRs that change nothing (the root keeps its mode), sent in one write: the
            // server reads them together and answers them on its event loop.
            var frames = ByteBuffer()
            for index in 0..<UInt64(count) {
                var frame = FrameEncoding.request(
                    SetattrRequest(handle: root, mode: 0o1777), caller: .root, transaction: TransactionID(2 + index),
                    allocator: ByteBufferAllocator())
                frames.writeBuffer(&frame)
            }
            let before = try self.writeCalls()
            try await raw.send(frames)
            try await withDeadline(.seconds(10), "\(count) SETATTR replies") {
                while raw.receivedFrames.count < count + 1 { try await Task.sleep(for: .milliseconds(2)) }
            }
            let writes = try self.writeCalls() - before
            print("\(count) replies: \(writes) write system calls")
            XCTAssertTrue(raw.receivedFrames.dropFirst().allSatisfy { $0.header.status == 0 })
            // One for the request, a few for the replies (the server may read the 50 requests in
            // more than one pass) and event-loop wake-ups; a write per reply is 50 or more.
            XCTAssertLessThan(writes, count / 2, "\(count) replies took \(writes) write system calls")
        }
    }
}

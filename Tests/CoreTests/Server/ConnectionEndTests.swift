import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// However a connection ends — clean close, TCP reset, protocol violation — its session is
/// detached, its lease starts, and when the lease runs out its locks and open files go.
final class ConnectionEndTests: XCTestCase {
    private func lock(_ file: FileHandleID, owner: UInt64, _ type: FileLockType) -> SetlkRequest {
        SetlkRequest(file: file, owner: LockOwner(owner), flavor: .posix, type: type, range: .wholeFile, pid: 1, wait: false)
    }

    /// A raw client says HELLO, creates `name`, takes a write lock on it, then `end`s its
    /// connection; another client must get the lock within the lease plus a margin.
    private func assertLockReleased(
        after ending: String, file: StaticString = #filePath, line: UInt = #line,
        _ end: @escaping (RawConnection) async throws -> Void
    ) async throws {
        try await LiveServer.with(configure: { $0.lockLease = .seconds(1) }) { live, other in
            let raw = try await RawConnection.connect(port: live.port)
            _ = try await raw.hello()
            let created = try await raw.call(
                CreateRequest(parent: other.root, name: "locked", mode: 0o644, flags: UInt32(O_RDWR)), transaction: 2)
            _ = try await raw.call(self.lock(created.file, owner: 1, .write), transaction: 3)
            let mine = try await other.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDWR)))
            do {
                _ = try await other.call(self.lock(mine.file, owner: 2, .write))
                XCTFail("\(ending): the lock should be held while its client is connected", file: file, line: line)
            } catch let error as Errno {
                XCTAssertEqual(error, Errno(EAGAIN), file: file, line: line)
            }
            try await end(raw)
            // Lease 1 s: the lock must be free well within lease + 5 s.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(6)
            var granted = false
            while !granted && clock.now < deadline {
                do {
                    _ = try await other.call(self.lock(mine.file, owner: 2, .write))
                    granted = true
                } catch let error as Errno where error == Errno(EAGAIN) {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            XCTAssertTrue(granted, "\(ending): the lock of a client gone by \(ending) was never released", file: file, line: line)
            let table = try await other.call(LockTableRequest())
            XCTAssertEqual(table.entries.count, 1, "\(ending): only the new holder's lock remains", file: file, line: line)
        }
    }

    func testALockHeldByAClientThatEndsWithAResetIsReleasedAfterTheLease() async throws {
        try await self.assertLockReleased(after: "reset") { raw in await raw.reset() }
    }

    func testALockHeldByAClientThatBreaksTheProtocolIsReleasedAfterTheLease() async throws {
        try await self.assertLockReleased(after: "violation") { raw in
            var garbage = ByteBuffer()
            garbage.writeBytes(Array(repeating: UInt8(0xA5), count: 64))
            try await raw.send(garbage)
            try await raw.waitForClose()
        }
    }

    func testALockHeldByAClientThatClosesCleanlyIsReleasedAfterTheLease() async throws {
        try await self.assertLockReleased(after: "clean close") { raw in await raw.close() }
    }
}

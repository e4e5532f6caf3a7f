import Foundation
import NIOCore
@testable import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// An OPEN that asks for the file's first bytes runs on the connection's event loop and brings
/// them, read there when the server has them in memory and off the loop when it must wait for
/// the disk (never on the loop).
final class FirstReadOnEventLoopTests: XCTestCase {
    private func open(_ client: RPCClient, _ handle: ObjectHandle) async throws -> OpenResponse {
        try await client.call(
            OpenRequest(handle: handle, flags: UInt32(O_RDONLY) | OpenRequest.wantsFirstRead, caching: true))
    }

    func testTheFirstReadComesWithTheOpenCachedOrNot() async throws {
        try await LiveServer.with { live, client in
            let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let created = try await client.createFile("f", contents: content)
            let statistics = live.server.statistics

            // Just written: its pages are in the server's page cache.
            let onLoopBefore = statistics.requestsOnEventLoop.load(ordering: .relaxed)
            let cached = try await self.open(client, created.entry.handle)
            XCTAssertEqual(
                statistics.requestsOnEventLoop.load(ordering: .relaxed), onLoopBefore + 1,
                "the OPEN with a first read went to the thread pool")
            guard case .bytes(let bytes) = cached.firstRead else {
                return XCTFail("the first read of a cached file was not answered: \(String(describing: cached.firstRead))")
            }
            XCTAssertEqual(Array(buffer: bytes), content)

            // Its pages dropped from the server's cache (clean after fsync): the OPEN is still
            // performed on the loop, and its first read off it; the bytes come with it.
            let fd = Glibc.open(live.path("f"), O_RDONLY)
            XCTAssertGreaterThanOrEqual(fd, 0)
            fsync(fd)
            XCTAssertEqual(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0)
            close(fd)
            let onLoopBeforeCold = statistics.requestsOnEventLoop.load(ordering: .relaxed)
            let cold = try await self.open(client, created.entry.handle)
            XCTAssertEqual(
                statistics.requestsOnEventLoop.load(ordering: .relaxed), onLoopBeforeCold + 1,
                "the OPEN of an uncached file went to the thread pool")
            guard case .bytes(let coldBytes) = cold.firstRead else {
                return XCTFail("the first read of an uncached file was not answered: \(String(describing: cold.firstRead))")
            }
            XCTAssertEqual(Array(buffer: coldBytes), content)
        }
    }
}

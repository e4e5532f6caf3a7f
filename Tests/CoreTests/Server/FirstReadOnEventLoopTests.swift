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
    /// Opens `handle` asking for its first bytes; the OPEN must run on the event loop and bring
    /// `content`.
    private func openOnTheLoop(
        _ live: LiveServer, _ client: RPCClient, _ handle: ObjectHandle, expecting content: [UInt8], _ what: String
    ) async throws {
        let statistics = live.server.statistics
        let before = statistics.requestsOnEventLoop.load(ordering: .relaxed)
        let opened: OpenResponse = try await client.call(
            OpenRequest(handle: handle, flags: UInt32(O_RDONLY) | OpenRequest.wantsFirstRead, caching: true))
        XCTAssertEqual(
            statistics.requestsOnEventLoop.load(ordering: .relaxed), before + 1,
            "the OPEN of \(what) went to the thread pool")
        guard case .bytes(let bytes) = opened.firstRead else {
            return XCTFail("the first read of \(what) was not answered: \(String(describing: opened.firstRead))")
        }
        XCTAssertEqual(Array(buffer: bytes), content, what)
    }

    func testTheFirstReadComesWithTheOpenCachedOrNot() async throws {
        try await LiveServer.with { live, client in
            let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let created = try await client.createFile("f", contents: content)

            // Just written: its pages are in the server's page cache.
            try await self.openOnTheLoop(live, client, created.entry.handle, expecting: content, "a cached file")

            // Its pages dropped from the server's cache (clean after fsync): the OPEN is still
            // performed on the loop, and its first read off it; the bytes come with it.
            let fd = Glibc.open(live.path("f"), O_RDONLY)
            XCTAssertGreaterThanOrEqual(fd, 0)
            fsync(fd)
            XCTAssertEqual(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0)
            close(fd)
            try await self.openOnTheLoop(live, client, created.entry.handle, expecting: content, "an uncached file")
        }
    }
}

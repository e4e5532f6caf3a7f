import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Many clients at once, each on its own connection, doing mixed work on private and shared
/// files; every byte is checked afterwards, through the protocol and on disk.
final class ConcurrentClientsTests: XCTestCase {
    static let clientCount = 32
    /// Bytes each client owns in the shared file, and writes to its private file.
    static let slice = 64 * 1024
    /// Each client writes its data in pieces of this size, all in flight at once.
    static let piece = 16 * 1024

    func testThirtyTwoClientsWritingPrivateAndSharedFilesLoseNoByte() async throws {
        try await LiveServer.with { live, first in
            let sharedSize = Self.clientCount * Self.slice
            _ = try await first.createFile("shared")
            _ = try await first.mkdir("work")
            var clients: [RPCClient] = []
            do {
                for index in 0..<Self.clientCount { clients.append(try await live.connect(name: "client-\(index)")) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, client) in clients.enumerated() {
                        group.addTask { try await Self.work(client, index: index) }
                    }
                    try await group.waitForAll()
                }
            } catch {
                for client in clients { await client.close() }
                throw error
            }
            for client in clients { await client.close() }

            // The shared file: every client's slice, exactly.
            var expected: [UInt8] = []
            for index in 0..<Self.clientCount { expected += pattern(Self.slice, seed: 1000 + index) }
            XCTAssertEqual(try onDiskContents(live.path("shared")).count, sharedSize)
            XCTAssertTrue(try onDiskContents(live.path("shared")) == expected, "shared file differs on disk")
            let shared = try await first.call(OpenRequest(handle: try await first.lookup("shared").handle, flags: UInt32(O_RDONLY)))
            var throughProtocol: [UInt8] = []
            for offset in stride(from: 0, to: sharedSize, by: 1 << 20) {
                throughProtocol += try await first.readBytes(shared.file, at: UInt64(offset), size: 1 << 20)
            }
            XCTAssertTrue(throughProtocol == expected, "shared file differs through the protocol")

            // Private files and the namespace work each client left behind.
            for index in 0..<Self.clientCount {
                XCTAssertTrue(
                    try onDiskContents(live.path("private-\(index)")) == pattern(Self.slice, seed: index),
                    "private-\(index) differs")
                let names = try FileManager.default.contentsOfDirectory(atPath: live.path("work", "dir-\(index)")).sorted()
                XCTAssertEqual(names, ["kept-0", "kept-2", "kept-4"], "dir-\(index)")
            }
            XCTAssertEqual(live.server.statistics.protocolErrors.load(ordering: .relaxed), 0)
        }
    }

    /// One client's share: a private file written in pipelined pieces and read back, its slice
    /// of the shared file, and a little namespace churn in its own directory.
    private static func work(_ client: RPCClient, index: Int) async throws {
        // Private file: pieces in flight together, then read back in one request.
        let mine = try await client.createFile(FileName("private-\(index)"))
        let data = pattern(Self.slice, seed: index)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for offset in stride(from: 0, to: Self.slice, by: Self.piece) {
                group.addTask {
                    try await client.write(Array(data[offset..<offset + Self.piece]), to: mine.file, at: UInt64(offset))
                }
            }
            try await group.waitForAll()
        }
        let back = try await client.readBytes(mine.file, size: UInt32(Self.slice))
        guard back == data else { throw ConcurrencyFailure(what: "client \(index) read back other bytes") }

        // Shared file: this client's disjoint slice, written in pieces.
        let shared = try await client.call(OpenRequest(handle: try await client.lookup("shared").handle, flags: UInt32(O_RDWR)))
        let base = index * Self.slice
        let sliceData = pattern(Self.slice, seed: 1000 + index)
        for offset in stride(from: 0, to: Self.slice, by: Self.piece) {
            try await client.write(
                Array(sliceData[offset..<offset + Self.piece]), to: shared.file, at: UInt64(base + offset))
        }
        let sliceBack = try await client.readBytes(shared.file, at: UInt64(base), size: UInt32(Self.slice))
        guard sliceBack == sliceData else { throw ConcurrencyFailure(what: "client \(index) lost its shared slice") }
        _ = try await client.call(ReleaseRequest(file: shared.file))
        _ = try await client.call(ReleaseRequest(file: mine.file))

        // Namespace churn: create five, rename the even ones, remove the odd ones.
        let work = try await client.lookup("work")
        let directory = try await client.mkdir(FileName("dir-\(index)"), in: work.handle)
        for file in 0..<5 {
            let created = try await client.createFile(FileName("tmp-\(file)"), in: directory.handle, contents: [UInt8(file)])
            _ = try await client.call(ReleaseRequest(file: created.file))
        }
        for file in 0..<5 {
            if file % 2 == 0 {
                _ = try await client.call(
                    RenameRequest(
                        oldParent: directory.handle, oldName: FileName("tmp-\(file)"), newParent: directory.handle,
                        newName: FileName("kept-\(file)"), flags: .noReplace))
            } else {
                _ = try await client.call(UnlinkRequest(parent: directory.handle, name: FileName("tmp-\(file)")))
            }
        }
        let listing = try await client.listDirectory(directory.handle, plus: true, batch: 2)
        guard listing.count == 5 else { throw ConcurrencyFailure(what: "client \(index) listed \(listing.count) entries") }
    }
}

/// A check inside a concurrent task that failed (thrown so the task group reports it).
struct ConcurrencyFailure: Error, CustomStringConvertible {
    var what: String
    var description: String { self.what }
}

import Foundation
import NIOCore
import XCTest

@testable import PohmelfsCore

/// The server keeps nothing of a removed object once no client has it open (after the 1 s
/// `removalGrace`): the object table does not grow with files created and deleted, and an
/// unlinked file stays usable while open.
final class RemovedObjectTests: XCTestCase {
    /// The object table's size once removed objects have left it: polled for up to 3 s, since
    /// they stay for `LocalDirectoryStore.removalGrace` (1 s) after their last link or close.
    private func settledObjectCount(_ store: LocalDirectoryStore, toward expected: Int) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(3)
        while store.objects.count != expected && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        return store.objects.count
    }

    func testFilesCreatedAndDeletedLeaveTheObjectTableWhereItWas() async throws {
        try await LiveServer.with { live, client in
            let baseline = live.store.objects.count
            for index in 0..<200 {
                let name = FileName("churn-\(index)")
                let created = try await client.call(
                    CreateRequest(parent: client.root, name: name, mode: 0o644, flags: UInt32(O_RDWR), caching: true))
                _ = try await client.call(ReleaseRequest(file: created.file))
                _ = try await client.call(UnlinkRequest(parent: client.root, name: name))
            }
            let settled = try await self.settledObjectCount(live.store, toward: baseline)
            XCTAssertEqual(settled, baseline, "removed files must leave the object table")
        }
    }

    func testAnUnlinkedOpenFileWorksUntilItsLastCloseAndIsForgottenThen() async throws {
        try await LiveServer.with { live, client in
            let baseline = live.store.objects.count
            let created = try await client.createFile("open-and-removed", contents: Array("before".utf8))
            _ = try await client.call(UnlinkRequest(parent: client.root, name: "open-and-removed"))
            XCTAssertEqual(live.store.objects.count, baseline + 1, "an open file's object stays")
            try await client.write(Array("after".utf8), to: created.file, at: 6)
            let contents = try await client.readBytes(created.file)
            XCTAssertEqual(contents, Array("beforeafter".utf8))
            let attributes = try await client.call(GetattrRequest(handle: created.entry.handle))
            XCTAssertEqual(attributes.size, 11)
            _ = try await client.call(ReleaseRequest(file: created.file))
            XCTAssertEqual(live.store.objects.count, baseline + 1, "reachable for the grace after the last close")
            let settled = try await self.settledObjectCount(live.store, toward: baseline)
            XCTAssertEqual(settled, baseline, "dropped after the last close")
        }
    }
}

import Foundation
import NIOCore
import XCTest

@testable import PohmelfsCore

/// The server keeps nothing of a removed object once no client has it open: the object table
/// does not grow with files created and deleted, and an unlinked file stays usable while open.
final class RemovedObjectTests: XCTestCase {
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
            XCTAssertEqual(live.store.objects.count, baseline, "removed files must leave the object table")
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
            XCTAssertEqual(live.store.objects.count, baseline, "dropped at the last close")
        }
    }
}

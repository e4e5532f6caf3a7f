import NIOCore
import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// OPEN of an object another client has renamed over: ESTALE through a stale name, opened when
/// the client vouches that it looked the name up for this open (`resolvedJustNow`).
final class OpenRemovedObjectTests: XCTestCase {
    func testARemovedObjectIsESTALEUnlessTheClientJustResolvedIt() async throws {
        try await LiveServer.with { _, client in
            let old = try await client.createFile("target", contents: [1, 2, 3])
            _ = try await client.createFile("tmp", contents: [4])
            try await client.call(
                RenameRequest(
                    oldParent: client.root, oldName: "tmp", newParent: client.root, newName: "target", flags: []))
            await XCTAssertErrno(
                .stale, try await client.call(OpenRequest(handle: old.entry.handle, flags: UInt32(O_RDONLY))))
            let opened = try await client.call(
                OpenRequest(handle: old.entry.handle, flags: UInt32(O_RDONLY) | OpenRequest.resolvedJustNow))
            let bytes = try await client.readBytes(opened.file)
            XCTAssertEqual(bytes, [1, 2, 3], "the object the name named at lookup")
        }
    }
}

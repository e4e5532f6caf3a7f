import Foundation
import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// link() of a symbolic link makes a second name for the link itself, as on a local disk; a
/// rename with RENAME_WHITEOUT leaves a whiteout behind.
final class LinkAndRenameFlagsTests: XCTestCase {
    func testAHardLinkToASymbolicLinkLinksTheLinkItselfEvenWhenDangling() async throws {
        try await LiveServer.with { live, client in
            let link = try await client.call(
                SymlinkRequest(parent: client.root, name: "dangling", target: Array("nowhere".utf8)))
            let second = try await client.call(LinkRequest(target: link.handle, newParent: client.root, name: "again"))
            XCTAssertEqual(second.handle, link.handle)
            XCTAssertEqual(second.attributes.linkCount, 2)
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: live.path("again")), "nowhere")
        }
    }

    func testAHardLinkToASymbolicLinkIsRefusedInADirectoryTheCallerMayNotWrite() async throws {
        try await LiveServer.with { _, client in
            let link = try await client.call(SymlinkRequest(parent: client.root, name: "l", target: [0x78]))
            let closed = try await client.call(MkdirRequest(parent: client.root, name: "closed", mode: 0o755))
            let user = Caller(uid: 4321, gid: 4321)
            await XCTAssertErrno(
                .accessDenied, try await client.call(LinkRequest(target: link.handle, newParent: closed.handle, name: "x"), caller: user))
        }
    }

    func testRenameWhiteoutLeavesAWhiteoutWhereTheSourceWas() async throws {
        try await LiveServer.with { live, client in
            try await client.createFile("a", contents: [1])
            try await client.call(
                RenameRequest(oldParent: client.root, oldName: "a", newParent: client.root, newName: "b", flags: .whiteout))
            var st = stat()
            XCTAssertEqual(lstat(live.path("a"), &st), 0)
            XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR)
            XCTAssertEqual(st.st_rdev, 0)
            await XCTAssertErrno(
                .invalid,
                try await client.call(
                    RenameRequest(
                        oldParent: client.root, oldName: "b", newParent: client.root, newName: "c",
                        flags: [.whiteout, .exchange])))
        }
    }
}

import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// More of the hostile client: forged and replayed handles, renames that would detach a
/// directory into its own subtree, renames racing lookups, and xattrs outside `user.`.
final class HostileHandleTests: XCTestCase {
    func testHandlesFromAnotherExportOrForgedAreStale() async throws {
        let other = try await LiveServer.start()
        do {
            let foreignClient = try await other.connect()
            let foreign = try await foreignClient.createFile("foreign", contents: [1])
            let foreignRoot = foreignClient.root
            await foreignClient.close()
            try await LiveServer.with { _, client in
                let own = try await client.createFile("own", contents: [2])
                // A handle minted by another server (another export, another state directory).
                for handle in [foreign.entry.handle, foreignRoot] {
                    await XCTAssertErrno(.stale, try await client.call(GetattrRequest(handle: handle)))
                    await XCTAssertErrno(.stale, try await client.lookup("own", in: handle))
                    await XCTAssertErrno(.stale, try await client.call(OpenRequest(handle: handle, flags: UInt32(O_RDONLY))))
                }
                // Forged: every single-byte change of a valid handle, and truncations.
                let valid = own.entry.handle.bytes
                for index in valid.indices {
                    var forged = valid
                    forged[index] ^= 0x01
                    await XCTAssertErrno(
                        .stale, try await client.call(GetattrRequest(handle: ObjectHandle(bytes: forged))), "byte \(index)")
                }
                for length in [0, 1, valid.count / 2, valid.count - 1] {
                    do {
                        _ = try await client.call(GetattrRequest(handle: ObjectHandle(bytes: Array(valid.prefix(length)))))
                        XCTFail("a truncated handle of \(length) bytes was accepted")
                    } catch {}
                }
                // The genuine handle still works.
                _ = try await client.call(GetattrRequest(handle: own.entry.handle))
            }
        } catch {
            await other.stop()
            throw error
        }
        await other.stop()
    }

    func testAReplayedHandleOfARemovedFileNeverReachesANewOne() async throws {
        try await LiveServer.with { live, client in
            let gone = try await client.createFile("gone")
            _ = try await client.call(UnlinkRequest(parent: client.root, name: "gone"))
            _ = try await client.call(ReleaseRequest(file: gone.file))
            // A new file may reuse the inode number; the old handle must never reach it. (The
            // server may still describe the removed file itself while it is known: then it has
            // no links and none of the new file's contents.)
            _ = try await client.createFile("new", contents: [9])
            do {
                let attributes = try await client.call(GetattrRequest(handle: gone.entry.handle))
                XCTAssertEqual(attributes.linkCount, 0, "a replayed handle reached another file")
                XCTAssertEqual(attributes.size, 0)
            } catch let errno as Errno {
                XCTAssertEqual(errno, .stale)
            }
            _ = live
        }
    }

    func testRenamingADirectoryIntoItsOwnSubtreeIsEINVAL() async throws {
        try await LiveServer.with { live, client in
            let a = try await client.mkdir("a")
            let b = try await client.mkdir("b", in: a.handle)
            let c = try await client.mkdir("c", in: b.handle)
            for (parent, name) in [(a.handle, "a-inside"), (b.handle, "x"), (c.handle, "deep")] {
                await XCTAssertErrno(
                    .invalid,
                    try await client.call(
                        RenameRequest(oldParent: client.root, oldName: "a", newParent: parent, newName: FileName(name), flags: [])))
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: live.path("a", "b", "c")))
        }
    }

    func testRenameRacingLookupNeverEscapesTheExport() async throws {
        try await LiveServer.with { live, client in
            let outside = live.export.deletingLastPathComponent().appendingPathComponent("outside-dir")
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
            try onDiskWrite(outside.appendingPathComponent("secret").path, Array("secret".utf8))
            let a = try await client.mkdir("a")
            let b = try await client.mkdir("b")
            _ = try await client.mkdir("inner", in: a.handle)
            try FileManager.default.createSymbolicLink(atPath: live.path("b", "inner"), withDestinationPath: outside.path)
            let second = try await live.connect(name: "racer")
            let root = client.root
            let renamer = Task {
                for _ in 0..<300 {
                    // Swap a/inner (a directory) and b/inner (a link out of the export).
                    _ = try? await second.call(
                        RenameRequest(oldParent: a.handle, oldName: "inner", newParent: b.handle, newName: "inner", flags: .exchange))
                }
            }
            for _ in 0..<300 {
                for parent in [a.handle, b.handle] {
                    guard let entry = try? await client.lookup("inner", in: parent) else { continue }
                    if entry.attributes.isSymbolicLink {
                        await XCTAssertErrno(.notDirectory, try await client.lookup("secret", in: entry.handle))
                    } else if let found = try? await client.lookup("secret", in: entry.handle) {
                        XCTFail("found \(found) through a directory that should be empty")
                    }
                }
                _ = root
            }
            await renamer.value
            await second.close()
            XCTAssertEqual(try onDiskContents(outside.appendingPathComponent("secret").path), Array("secret".utf8))
        }
    }

    func testXattrsInOtherNamespacesAreRefusedOrEmpty() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("x", mode: 0o666)
            let user = Caller(uid: 1000, gid: 1000)
            for name in ["system.posix_acl_access", "bogus.name", "user", "trusted.", "security.", "os2.x", ".user.x"] {
                do {
                    try await client.call(
                        SetxattrRequest(handle: file.entry.handle, name: Array(name.utf8), value: [1, 2], flags: 0),
                        caller: user)
                    XCTFail("\(name) was set by an unprivileged caller")
                } catch {
                    XCTAssertTrue(error is Errno, "\(name): \(error)")
                }
                do {
                    let value = try await client.call(
                        GetxattrRequest(handle: file.entry.handle, name: Array(name.utf8), size: 64), caller: user)
                    XCTFail("\(name) read as \(value)")
                } catch {
                    XCTAssertTrue(error is Errno, "\(name): \(error)")
                }
            }
        }
    }
}

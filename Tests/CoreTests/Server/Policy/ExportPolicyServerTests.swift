import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// The export policy on a live server: read-only exports, squashing, the privileged xattr
/// namespaces and the allow list, each seen from a client and checked on disk.
final class ExportPolicyServerTests: XCTestCase {
    func testReadOnlyExportRefusesEveryChangeWithEROFS() async throws {
        try await LiveServer.with(configure: { $0.policy.readOnly = true }) { live, client in
            try onDiskWrite(live.path("file"), Array("contents".utf8))
            try FileManager.default.createDirectory(atPath: live.path("dir"), withIntermediateDirectories: false)
            let file = try await client.lookup("file")
            let dir = try await client.lookup("dir")
            let root = client.root

            // Reading works.
            let reader = try await client.call(OpenRequest(handle: file.handle, flags: UInt32(O_RDONLY)))
            let read = try await client.readBytes(reader.file)
            XCTAssertEqual(read, Array("contents".utf8))
            _ = try await client.listDirectory(root, plus: true)
            await XCTAssertErrno(
                .noData, try await client.call(GetxattrRequest(handle: file.handle, name: Array("user.none".utf8), size: 0)))

            await XCTAssertErrno(.readOnly, try await client.createFile("new"))
            await XCTAssertErrno(.readOnly, try await client.mkdir("newdir"))
            await XCTAssertErrno(
                .readOnly, try await client.call(MknodRequest(parent: root, name: "fifo", mode: UInt32(S_IFIFO) | 0o644, rdev: 0)))
            await XCTAssertErrno(
                .readOnly, try await client.call(SymlinkRequest(parent: root, name: "link", target: Array("file".utf8))))
            await XCTAssertErrno(.readOnly, try await client.call(LinkRequest(target: file.handle, newParent: root, name: "hard")))
            await XCTAssertErrno(.readOnly, try await client.call(UnlinkRequest(parent: root, name: "file")))
            await XCTAssertErrno(.readOnly, try await client.call(RmdirRequest(parent: root, name: "dir")))
            await XCTAssertErrno(
                .readOnly,
                try await client.call(RenameRequest(oldParent: root, oldName: "file", newParent: dir.handle, newName: "moved", flags: [])))
            await XCTAssertErrno(.readOnly, try await client.call(SetattrRequest(handle: file.handle, mode: 0o600)))
            await XCTAssertErrno(.readOnly, try await client.call(SetattrRequest(handle: file.handle, size: 0)))
            await XCTAssertErrno(
                .readOnly, try await client.call(SetattrRequest(handle: file.handle, modificationTime: .now)))
            await XCTAssertErrno(.readOnly, try await client.write([1], to: reader.file))
            await XCTAssertErrno(
                .readOnly, try await client.call(FallocateRequest(file: reader.file, mode: 0, offset: 0, length: 4096)))
            await XCTAssertErrno(
                .readOnly,
                try await client.call(
                    CopyFileRangeRequest(
                        source: reader.file, sourceOffset: 0, destination: reader.file, destinationOffset: 100, length: 4)))
            await XCTAssertErrno(
                .readOnly,
                try await client.call(SetxattrRequest(handle: file.handle, name: Array("user.x".utf8), value: [1], flags: 0)))
            await XCTAssertErrno(
                .readOnly, try await client.call(RemovexattrRequest(handle: file.handle, name: Array("user.x".utf8))))
            for flags in [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND] {
                await XCTAssertErrno(
                    .readOnly, try await client.call(OpenRequest(handle: file.handle, flags: UInt32(flags))), "\(flags)")
            }

            // Nothing changed on disk.
            XCTAssertEqual(try onDiskContents(live.path("file")), Array("contents".utf8))
            XCTAssertEqual(try onDiskStat(live.path("file")).st_mode & 0o7777, 0o644)
            XCTAssertEqual(
                try FileManager.default.contentsOfDirectory(atPath: live.export.path).sorted(), ["dir", "file"])
        }
    }

    func testRootSquashCreatesFilesOwnedByTheAnonymousIds() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        try await LiveServer.with(configure: { $0.policy.squash = .root }) { live, client in
            let created = try await client.createFile("by-root", contents: [1, 2, 3])
            XCTAssertEqual([created.entry.attributes.uid, created.entry.attributes.gid], [65534, 65534])
            let st = try onDiskStat(live.path("by-root"))
            XCTAssertEqual([st.st_uid, st.st_gid], [65534, 65534])
            // Other users keep their identity.
            let user = Caller(uid: 1234, gid: 2345)
            _ = try await client.createFile("by-user", caller: user)
            let userStat = try onDiskStat(live.path("by-user"))
            XCTAssertEqual([userStat.st_uid, userStat.st_gid], [1234, 2345])
            // Squashed root has no root powers: a root-only file is out of reach.
            try onDiskWrite(live.path("secret"), Array("secret".utf8), mode: 0o600)
            let secret = try await client.lookup("secret")
            await XCTAssertErrno(.accessDenied, try await client.call(OpenRequest(handle: secret.handle, flags: UInt32(O_RDONLY))))
            await XCTAssertErrno(.permission, try await client.call(SetattrRequest(handle: secret.handle, uid: 0)))
        }
    }

    func testAllSquashMapsEveryCallerToTheChosenIds() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        let configure: (inout PohmelfsServer<LocalDirectoryStore>.Configuration) -> Void = {
            $0.policy.squash = .all
            $0.policy.anonymousUID = 4000
            $0.policy.anonymousGID = 4001
        }
        try await LiveServer.with(configure: configure) { live, client in
            for (index, caller) in [Caller.root, Caller(uid: 1000, gid: 1000, groups: [0, 27])].enumerated() {
                _ = try await client.createFile(FileName("file-\(index)"), caller: caller)
                _ = try await client.mkdir(FileName("dir-\(index)"), caller: caller)
                for name in ["file-\(index)", "dir-\(index)"] {
                    let st = try onDiskStat(live.path(name))
                    XCTAssertEqual([st.st_uid, st.st_gid], [4000, 4001], name)
                }
            }
        }
    }

    func testPrivilegedXattrNamespacesAreRefusedToAllButUnsquashedRoot() async throws {
        try XCTSkipUnless(geteuid() == 0, "setting trusted.* needs root")
        try await LiveServer.with { live, client in
            let file = try await client.createFile("x", mode: 0o666)
            let trusted = Array("trusted.pohmelfs-test".utf8)
            do {
                _ = try await client.call(SetxattrRequest(handle: file.entry.handle, name: trusted, value: [7], flags: 0))
            } catch let errno as Errno where errno == .notSupported {
                throw XCTSkip("the test filesystem has no trusted.* xattrs")
            }
            _ = try await client.call(
                SetxattrRequest(handle: file.entry.handle, name: Array("user.visible".utf8), value: [1], flags: 0))
            let user = Caller(uid: 1000, gid: 1000)
            for name in ["trusted.pohmelfs-test", "security.capability", "security.selinux"] {
                await XCTAssertErrno(
                    .permission,
                    try await client.call(
                        SetxattrRequest(handle: file.entry.handle, name: Array(name.utf8), value: [1], flags: 0), caller: user),
                    name)
                await XCTAssertErrno(
                    .permission,
                    try await client.call(RemovexattrRequest(handle: file.entry.handle, name: Array(name.utf8)), caller: user),
                    name)
                // Reading reveals nothing, not even that the attribute exists.
                await XCTAssertErrno(
                    .noData,
                    try await client.call(GetxattrRequest(handle: file.entry.handle, name: Array(name.utf8), size: 64), caller: user),
                    name)
            }
            let listed = try await client.call(ListxattrRequest(handle: file.entry.handle, size: 4096), caller: user)
            XCTAssertEqual(listed.value, Array("user.visible\0".utf8))
            let length = try await client.call(ListxattrRequest(handle: file.entry.handle, size: 0), caller: user)
            XCTAssertEqual(length.size, UInt32("user.visible\0".utf8.count))
            await XCTAssertErrno(.range, try await client.call(ListxattrRequest(handle: file.entry.handle, size: 4), caller: user))
            // Root still sees and keeps its attribute.
            let value = try await client.call(GetxattrRequest(handle: file.entry.handle, name: trusted, size: 64))
            XCTAssertEqual(value.value, [7])
            let rootList = try await client.call(ListxattrRequest(handle: file.entry.handle, size: 4096))
            XCTAssertTrue(rootList.value.split(separator: 0).contains { Array($0) == trusted })
            _ = live
        }
        // Under root squashing even root is refused.
        try await LiveServer.with(configure: { $0.policy.squash = .root }) { _, client in
            let file = try await client.createFile("y", mode: 0o666)
            await XCTAssertErrno(
                .permission,
                try await client.call(
                    SetxattrRequest(handle: file.entry.handle, name: Array("trusted.a".utf8), value: [1], flags: 0)))
        }
    }

    func testAPeerOutsideTheAllowListIsClosedAtAccept() async throws {
        let live = try await LiveServer.start { $0.policy.allow = [CIDR("10.0.0.0/8")!, CIDR("fd00::/8")!] }
        do {
            let raw = try await RawConnection.connect(port: live.port)
            try await raw.waitForClose()
            XCTAssertTrue(raw.receivedFrames.isEmpty)
            await XCTAssertThrowsAsync(try await live.connect())
        } catch {
            XCTFail("\(error)")
        }
        await live.stop()

        // A list that includes loopback admits it.
        try await LiveServer.with(configure: { $0.policy.allow = [CIDR("10.0.0.0/8")!, CIDR("127.0.0.0/8")!] }) {
            _, client in
            _ = try await client.createFile("admitted")
        }
    }
}

/// Asserts that `expression` throws something.
func XCTAssertThrowsAsync<T>(
    _ expression: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line
) async {
    do {
        let value = try await expression()
        XCTFail("expected an error, got \(value)", file: file, line: line)
    } catch {}
}

import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Names and attributes against a live server and a real export directory: lookup, getattr,
/// setattr, readlink, symlink, mknod, mkdir, unlink, rmdir, rename, link, access, statfs, and
/// the errors each can answer. Results are checked on disk, not only in the replies.
final class NamespaceOperationsTests: XCTestCase {
    private let nobody = Caller(uid: 65534, gid: 65534)

    // MARK: - lookup and getattr

    func testLookupReturnsTheCreatedObjectAndMissingNameIsENOENT() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("file", contents: [1, 2, 3])
            let found = try await client.lookup("file")
            XCTAssertEqual(found.handle, created.entry.handle)
            XCTAssertEqual(found.attributes.inode, UInt64(try onDiskStat(live.path("file")).st_ino))
            XCTAssertEqual(found.attributes.size, 3)
            await XCTAssertErrno(.noEntry, try await client.lookup("missing"))
        }
    }

    func testLookupSeesObjectsCreatedOutsideTheProtocol() async throws {
        try await LiveServer.with { live, client in
            try FileManager.default.createDirectory(atPath: live.path("made", "by", "hand"), withIntermediateDirectories: true)
            let made = try await client.lookup("made")
            let by = try await client.lookup("by", in: made.handle)
            let hand = try await client.lookup("hand", in: by.handle)
            XCTAssertTrue(hand.attributes.isDirectory)
            XCTAssertEqual(hand.attributes.inode, UInt64(try onDiskStat(live.path("made", "by", "hand")).st_ino))
        }
    }

    func testLookupInAFileIsENOTDIR() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("plain")
            await XCTAssertErrno(.notDirectory, try await client.lookup("x", in: file.entry.handle))
        }
    }

    func testGetattrMatchesStatOnDisk() async throws {
        try await LiveServer.with { live, client in
            try onDiskWrite(live.path("f"), pattern(5000, seed: 1), mode: 0o640)
            let entry = try await client.lookup("f")
            let attributes = try await client.call(GetattrRequest(handle: entry.handle))
            let st = try onDiskStat(live.path("f"))
            XCTAssertEqual(attributes.inode, UInt64(st.st_ino))
            XCTAssertEqual(attributes.size, 5000)
            XCTAssertEqual(attributes.mode, UInt32(st.st_mode))
            XCTAssertEqual(attributes.mode & 0o7777, 0o640)
            XCTAssertTrue(attributes.isRegularFile)
            XCTAssertEqual(attributes.linkCount, 1)
            XCTAssertEqual(attributes.uid, st.st_uid)
            XCTAssertEqual(attributes.gid, st.st_gid)
            XCTAssertEqual(attributes.blocks, UInt64(st.st_blocks))
            XCTAssertEqual(attributes.blockSize, UInt32(st.st_blksize))
            XCTAssertEqual(attributes.modificationTime.seconds, Int64(st.st_mtim.tv_sec))
            XCTAssertEqual(attributes.modificationTime.nanoseconds, UInt32(st.st_mtim.tv_nsec))
            XCTAssertEqual(attributes.changeTime.nanoseconds, UInt32(st.st_ctim.tv_nsec))
        }
    }

    // MARK: - setattr

    func testSetattrChangesMode() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("f", mode: 0o644)
            let after = try await client.call(SetattrRequest(handle: file.entry.handle, mode: 0o4751))
            XCTAssertEqual(after.mode & 0o7777, 0o4751)
            XCTAssertEqual(UInt32(try onDiskStat(live.path("f")).st_mode) & 0o7777, 0o4751)
        }
    }

    func testSetattrChangesOwnerAndGroupSeparately() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("f")
            var after = try await client.call(SetattrRequest(handle: file.entry.handle, uid: 1000))
            XCTAssertEqual(after.uid, 1000)
            XCTAssertEqual(after.gid, 0)
            after = try await client.call(SetattrRequest(handle: file.entry.handle, gid: 2000))
            XCTAssertEqual(after.uid, 1000)
            XCTAssertEqual(after.gid, 2000)
            let st = try onDiskStat(live.path("f"))
            XCTAssertEqual(st.st_uid, 1000)
            XCTAssertEqual(st.st_gid, 2000)
            after = try await client.call(SetattrRequest(handle: file.entry.handle, uid: 3, gid: 4))
            XCTAssertEqual([after.uid, after.gid], [3, 4])
        }
    }

    func testSetattrSizeTruncatesAndExtendsByNameAndByOpenFile() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("f", contents: pattern(10, seed: 2))
            var after = try await client.call(SetattrRequest(handle: file.entry.handle, size: 3))
            XCTAssertEqual(after.size, 3)
            XCTAssertEqual(try onDiskContents(live.path("f")), Array(pattern(10, seed: 2).prefix(3)))
            after = try await client.call(SetattrRequest(handle: file.entry.handle, file: file.file, size: 8))
            XCTAssertEqual(after.size, 8)
            XCTAssertEqual(try onDiskContents(live.path("f")), Array(pattern(10, seed: 2).prefix(3)) + [0, 0, 0, 0, 0])
            await XCTAssertErrno(
                .badFileHandle,
                try await client.call(SetattrRequest(handle: file.entry.handle, file: FileHandleID(424242), size: 0)))
        }
    }

    func testSetattrSetsTimesWithNanoseconds() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("f")
            let atime = Timestamp(seconds: 1_600_000_000, nanoseconds: 123_456_789)
            let mtime = Timestamp(seconds: 1_500_000_000, nanoseconds: 987_654_321)
            let after = try await client.call(
                SetattrRequest(handle: file.entry.handle, accessTime: .set(atime), modificationTime: .set(mtime)))
            XCTAssertEqual(after.accessTime, atime)
            XCTAssertEqual(after.modificationTime, mtime)
            let st = try onDiskStat(live.path("f"))
            XCTAssertEqual(Timestamp(seconds: Int64(st.st_atim.tv_sec), nanoseconds: UInt32(st.st_atim.tv_nsec)), atime)
            XCTAssertEqual(Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: UInt32(st.st_mtim.tv_nsec)), mtime)
        }
    }

    func testSetattrOneTimeLeavesTheOtherAlone() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            let atime = Timestamp(seconds: 1_000_000_000, nanoseconds: 1)
            let mtime = Timestamp(seconds: 1_100_000_000, nanoseconds: 2)
            _ = try await client.call(
                SetattrRequest(handle: file.entry.handle, accessTime: .set(atime), modificationTime: .set(mtime)))
            let newer = Timestamp(seconds: 1_200_000_000, nanoseconds: 3)
            let after = try await client.call(SetattrRequest(handle: file.entry.handle, modificationTime: .set(newer)))
            XCTAssertEqual(after.accessTime, atime)
            XCTAssertEqual(after.modificationTime, newer)
        }
    }

    func testSetattrNowSetsTheServersCurrentTime() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            let old = Timestamp(seconds: 1_000_000_000, nanoseconds: 0)
            _ = try await client.call(SetattrRequest(handle: file.entry.handle, accessTime: .set(old), modificationTime: .set(old)))
            let before = Int64(Date().timeIntervalSince1970)
            let after = try await client.call(SetattrRequest(handle: file.entry.handle, accessTime: .now, modificationTime: .now))
            let end = Int64(Date().timeIntervalSince1970)
            for time in [after.accessTime, after.modificationTime] {
                XCTAssertGreaterThanOrEqual(time.seconds, before - 1)
                XCTAssertLessThanOrEqual(time.seconds, end + 1)
            }
            let onlyAccess = try await client.call(SetattrRequest(handle: file.entry.handle, accessTime: .now))
            XCTAssertGreaterThanOrEqual(onlyAccess.accessTime.seconds, before - 1)
        }
    }

    func testSetattrAsNonOwnerIsRefused() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            await XCTAssertErrno(.permission, try await client.call(SetattrRequest(handle: file.entry.handle, mode: 0o777), caller: self.nobody))
            await XCTAssertErrno(.permission, try await client.call(SetattrRequest(handle: file.entry.handle, uid: 65534), caller: self.nobody))
            await XCTAssertErrno(.accessDenied, try await client.call(SetattrRequest(handle: file.entry.handle, size: 0), caller: self.nobody))
        }
    }

    // MARK: - symlink and readlink

    func testSymlinkStoresTargetVerbatimAndReadlinkReturnsIt() async throws {
        try await LiveServer.with { live, client in
            let target = Array("../does/not/exist/\u{00e9}".utf8) + [0xFF]
            let link = try await client.call(SymlinkRequest(parent: client.root, name: "link", target: target))
            XCTAssertTrue(link.attributes.isSymbolicLink)
            XCTAssertEqual(link.attributes.size, UInt64(target.count))
            let read = try await client.call(ReadlinkRequest(handle: link.handle))
            XCTAssertEqual(read.target, target)
            let onDisk = try FileManager.default.destinationOfSymbolicLink(atPath: live.path("link"))
            XCTAssertEqual(Array(onDisk.utf8).prefix(18), target.prefix(18))
            let found1 = try await client.lookup("link")
            XCTAssertEqual(found1.handle, link.handle)
        }
    }

    func testSymlinkErrors() async throws {
        try await LiveServer.with { _, client in
            _ = try await client.createFile("taken")
            await XCTAssertErrno(.exists, try await client.call(SymlinkRequest(parent: client.root, name: "taken", target: [0x78])))
            await XCTAssertErrno(.invalid, try await client.call(SymlinkRequest(parent: client.root, name: "l", target: [])))
            await XCTAssertErrno(.invalid, try await client.call(SymlinkRequest(parent: client.root, name: "l", target: [0x61, 0, 0x62])))
        }
    }

    func testReadlinkOfANonLinkIsEINVAL() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            await XCTAssertErrno(.invalid, try await client.call(ReadlinkRequest(handle: file.entry.handle)))
            await XCTAssertErrno(.invalid, try await client.call(ReadlinkRequest(handle: client.root)))
        }
    }

    // MARK: - mknod and mkdir

    func testMknodCreatesRegularFileFifoAndSocket() async throws {
        try await LiveServer.with { live, client in
            let cases: [(FileName, UInt32)] = [("regular", 0o100640), ("fifo", 0o010600), ("socket", 0o140755)]
            for (name, mode) in cases {
                let entry = try await client.call(MknodRequest(parent: client.root, name: name, mode: mode, rdev: 0))
                XCTAssertEqual(entry.attributes.mode, mode, "\(name)")
                XCTAssertEqual(UInt32(try onDiskStat(live.path("\(name)")).st_mode), mode, "\(name) on disk")
                let found2 = try await client.lookup(name)
                XCTAssertEqual(found2.handle, entry.handle)
            }
        }
    }

    func testMknodCreatesCharacterAndBlockDevicesAsRoot() async throws {
        try XCTSkipUnless(geteuid() == 0, "device nodes need CAP_MKNOD")
        try await LiveServer.with { live, client in
            let null = makeDevice(major: 1, minor: 3)
            let loop = makeDevice(major: 7, minor: 300)
            let character = try await client.call(MknodRequest(parent: client.root, name: "chr", mode: 0o020666, rdev: null))
            let block = try await client.call(MknodRequest(parent: client.root, name: "blk", mode: 0o060660, rdev: loop))
            XCTAssertEqual(character.attributes.rdev, null)
            XCTAssertEqual(block.attributes.rdev, loop)
            XCTAssertEqual(UInt64(try onDiskStat(live.path("chr")).st_rdev), null)
            XCTAssertEqual(UInt32(try onDiskStat(live.path("blk")).st_mode), 0o060660)
            XCTAssertEqual(UInt64(try onDiskStat(live.path("blk")).st_rdev), loop)
            // A device node made by an unprivileged caller is refused by the kernel.
            await XCTAssertErrno(
                .permission,
                try await client.call(MknodRequest(parent: client.root, name: "evil", mode: 0o020666, rdev: null), caller: self.nobody))
        }
    }

    func testMknodRefusesDirectoriesAndSymlinksAndExistingNames() async throws {
        try await LiveServer.with { _, client in
            await XCTAssertErrno(.invalid, try await client.call(MknodRequest(parent: client.root, name: "d", mode: 0o040755, rdev: 0)))
            await XCTAssertErrno(.invalid, try await client.call(MknodRequest(parent: client.root, name: "l", mode: 0o120777, rdev: 0)))
            _ = try await client.createFile("taken")
            await XCTAssertErrno(.exists, try await client.call(MknodRequest(parent: client.root, name: "taken", mode: 0o100644, rdev: 0)))
        }
    }

    func testMkdirCreatesDirectoryWithExactModeAndErrors() async throws {
        try await LiveServer.with { live, client in
            let directory = try await client.mkdir("d", mode: 0o750)
            XCTAssertTrue(directory.attributes.isDirectory)
            XCTAssertEqual(directory.attributes.mode & 0o7777, 0o750, "the server must not apply its own umask")
            XCTAssertEqual(UInt32(try onDiskStat(live.path("d")).st_mode) & 0o7777, 0o750)
            let nested = try await client.mkdir("nested", in: directory.handle)
            let found3 = try await client.lookup("nested", in: directory.handle)
            XCTAssertEqual(found3.handle, nested.handle)
            await XCTAssertErrno(.exists, try await client.mkdir("d"))
            let file = try await client.createFile("f")
            await XCTAssertErrno(.notDirectory, try await client.mkdir("x", in: file.entry.handle))
        }
    }

    // MARK: - unlink and rmdir

    func testUnlinkRemovesAndReportsErrors() async throws {
        try await LiveServer.with { live, client in
            _ = try await client.createFile("f")
            _ = try await client.call(UnlinkRequest(parent: client.root, name: "f"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: live.path("f")))
            await XCTAssertErrno(.noEntry, try await client.call(UnlinkRequest(parent: client.root, name: "f")))
            _ = try await client.mkdir("d")
            await XCTAssertErrno(.isDirectory, try await client.call(UnlinkRequest(parent: client.root, name: "d")))
        }
    }

    func testRmdirRemovesEmptyDirectoryAndReportsErrors() async throws {
        try await LiveServer.with { live, client in
            let full = try await client.mkdir("full")
            _ = try await client.createFile("inside", in: full.handle)
            _ = try await client.mkdir("empty")
            _ = try await client.createFile("file")
            _ = try await client.call(RmdirRequest(parent: client.root, name: "empty"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: live.path("empty")))
            await XCTAssertErrno(.notEmpty, try await client.call(RmdirRequest(parent: client.root, name: "full")))
            await XCTAssertErrno(.notDirectory, try await client.call(RmdirRequest(parent: client.root, name: "file")))
            await XCTAssertErrno(.noEntry, try await client.call(RmdirRequest(parent: client.root, name: "empty")))
            XCTAssertTrue(FileManager.default.fileExists(atPath: live.path("full", "inside")))
        }
    }

    // MARK: - rename

    /// RENAME from `old` to `new` in the root with `flags`.
    private func rename(
        _ client: RPCClient, _ old: FileName, _ new: FileName, _ flags: RenameRequest.Flags = []
    ) async throws {
        _ = try await client.call(
            RenameRequest(oldParent: client.root, oldName: old, newParent: client.root, newName: new, flags: flags))
    }

    func testRenameMovesAndKeepsTheHandle() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("a", contents: [1])
            let directory = try await client.mkdir("d")
            try await self.rename(client, "a", "b")
            XCTAssertFalse(FileManager.default.fileExists(atPath: live.path("a")))
            XCTAssertEqual(try onDiskContents(live.path("b")), [1])
            let found4 = try await client.lookup("b")
            XCTAssertEqual(found4.handle, file.entry.handle, "handles survive renames")
            _ = try await client.call(
                RenameRequest(oldParent: client.root, oldName: "b", newParent: directory.handle, newName: "c", flags: []))
            XCTAssertEqual(try onDiskContents(live.path("d", "c")), [1])
            let found5 = try await client.lookup("c", in: directory.handle)
            XCTAssertEqual(found5.handle, file.entry.handle)
            await XCTAssertErrno(.noEntry, try await self.rename(client, "a", "z"))
        }
    }

    func testRenameOverExistingReplacesIt() async throws {
        try await LiveServer.with { live, client in
            _ = try await client.createFile("a", contents: [1])
            _ = try await client.createFile("b", contents: [2, 2])
            try await self.rename(client, "a", "b")
            XCTAssertEqual(try onDiskContents(live.path("b")), [1])
            XCTAssertFalse(FileManager.default.fileExists(atPath: live.path("a")))
        }
    }

    func testRenameNoReplaceOverExistingIsEEXIST() async throws {
        try await LiveServer.with { live, client in
            _ = try await client.createFile("a", contents: [1])
            _ = try await client.createFile("b", contents: [2])
            await XCTAssertErrno(.exists, try await self.rename(client, "a", "b", .noReplace))
            XCTAssertEqual(try onDiskContents(live.path("a")), [1])
            XCTAssertEqual(try onDiskContents(live.path("b")), [2])
            try await self.rename(client, "a", "c", .noReplace)
            XCTAssertEqual(try onDiskContents(live.path("c")), [1])
        }
    }

    func testRenameExchangeSwapsBothNames() async throws {
        try await LiveServer.with { live, client in
            let a = try await client.createFile("a", contents: [1])
            let b = try await client.mkdir("b")
            try await self.rename(client, "a", "b", .exchange)
            XCTAssertEqual(try onDiskContents(live.path("b")), [1])
            let found6 = try await client.lookup("a")
            XCTAssertEqual(found6.handle, b.handle)
            let found7 = try await client.lookup("b")
            XCTAssertEqual(found7.handle, a.entry.handle)
            await XCTAssertErrno(.noEntry, try await self.rename(client, "a", "missing", .exchange))
        }
    }

    func testRenameWithBothOrUnknownFlagsIsEINVAL() async throws {
        try await LiveServer.with { _, client in
            _ = try await client.createFile("a")
            await XCTAssertErrno(.invalid, try await self.rename(client, "a", "b", [.noReplace, .exchange]))
            await XCTAssertErrno(.invalid, try await self.rename(client, "a", "b", RenameRequest.Flags(rawValue: 8)))
        }
    }

    func testRenameDirectoryOverNonEmptyDirectoryIsENOTEMPTY() async throws {
        try await LiveServer.with { _, client in
            _ = try await client.mkdir("a")
            let b = try await client.mkdir("b")
            _ = try await client.createFile("x", in: b.handle)
            await XCTAssertErrno(.notEmpty, try await self.rename(client, "a", "b"))
            _ = try await client.createFile("file")
            await XCTAssertErrno(.isDirectory, try await self.rename(client, "file", "a"))
            await XCTAssertErrno(.notDirectory, try await self.rename(client, "a", "file"))
        }
    }

    // MARK: - link

    func testLinkGivesTheSameObjectASecondName() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("a", contents: [7])
            let link = try await client.call(LinkRequest(target: file.entry.handle, newParent: client.root, name: "b"))
            XCTAssertEqual(link.handle, file.entry.handle)
            XCTAssertEqual(link.attributes.inode, file.entry.attributes.inode)
            XCTAssertEqual(link.attributes.linkCount, 2)
            let a = try onDiskStat(live.path("a"))
            let b = try onDiskStat(live.path("b"))
            XCTAssertEqual(a.st_ino, b.st_ino)
            XCTAssertEqual(a.st_nlink, 2)
            await XCTAssertErrno(.exists, try await client.call(LinkRequest(target: file.entry.handle, newParent: client.root, name: "b")))
            let directory = try await client.mkdir("d")
            await XCTAssertErrno(.permission, try await client.call(LinkRequest(target: directory.handle, newParent: client.root, name: "dl")))
            await XCTAssertErrno(.notDirectory, try await client.call(LinkRequest(target: file.entry.handle, newParent: file.entry.handle, name: "x")))
        }
    }

    // MARK: - access and statfs

    func testAccessChecksAsTheCaller() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f", mode: 0o644)
            let handle = file.entry.handle
            let (read, write, execute): (UInt32, UInt32, UInt32) = (UInt32(R_OK), UInt32(W_OK), UInt32(X_OK))
            _ = try await client.call(AccessRequest(handle: handle, mask: read | write))
            _ = try await client.call(AccessRequest(handle: handle, mask: 0))
            _ = try await client.call(AccessRequest(handle: handle, mask: read), caller: self.nobody)
            await XCTAssertErrno(.accessDenied, try await client.call(AccessRequest(handle: handle, mask: write), caller: self.nobody))
            // Even root needs one execute bit to execute.
            await XCTAssertErrno(.accessDenied, try await client.call(AccessRequest(handle: handle, mask: execute)))
            await XCTAssertErrno(.invalid, try await client.call(AccessRequest(handle: handle, mask: 8)))
        }
    }

    func testStatfsDescribesTheExportFilesystem() async throws {
        try await LiveServer.with { live, client in
            let reply = try await client.call(StatfsRequest(handle: client.root))
            var st = statvfs()
            XCTAssertEqual(statvfs(live.export.path, &st), 0)
            XCTAssertEqual(reply.blockSize, UInt64(st.f_bsize))
            XCTAssertEqual(reply.blocks, UInt64(st.f_blocks))
            XCTAssertEqual(reply.files, UInt64(st.f_files))
            XCTAssertEqual(reply.maximumNameLength, 255)
        }
    }

    // MARK: - names

    func testInvalidNamesAreEINVALEverywhere() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("real")
            let bad: [FileName] = ["..", ".", "a/b", "/", FileName(bytes: [0x61, 0, 0x62]), FileName(bytes: [])]
            for name in bad {
                let root = client.root
                await XCTAssertErrno(.invalid, try await client.lookup(name), "lookup \(name.bytes)")
                await XCTAssertErrno(.invalid, try await client.mkdir(name), "mkdir \(name.bytes)")
                await XCTAssertErrno(.invalid, try await client.createFile(name), "create \(name.bytes)")
                await XCTAssertErrno(.invalid, try await client.call(UnlinkRequest(parent: root, name: name)))
                await XCTAssertErrno(.invalid, try await client.call(RmdirRequest(parent: root, name: name)))
                await XCTAssertErrno(.invalid, try await client.call(SymlinkRequest(parent: root, name: name, target: [0x78])))
                await XCTAssertErrno(.invalid, try await client.call(MknodRequest(parent: root, name: name, mode: 0o100644, rdev: 0)))
                await XCTAssertErrno(.invalid, try await client.call(LinkRequest(target: file.entry.handle, newParent: root, name: name)))
                await XCTAssertErrno(
                    .invalid,
                    try await client.call(RenameRequest(oldParent: root, oldName: "real", newParent: root, newName: name, flags: [])))
                await XCTAssertErrno(
                    .invalid,
                    try await client.call(RenameRequest(oldParent: root, oldName: name, newParent: root, newName: "x", flags: [])))
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: live.export.path), ["real"])
        }
    }

    func testNameOf256BytesIsENAMETOOLONGAnd255Works() async throws {
        try await LiveServer.with { live, client in
            let long = FileName(bytes: Array(repeating: 0x61, count: 256))
            await XCTAssertErrno(.nameTooLong, try await client.createFile(long))
            await XCTAssertErrno(.nameTooLong, try await client.lookup(long))
            await XCTAssertErrno(.nameTooLong, try await client.mkdir(long))
            let longest = FileName(bytes: Array(repeating: 0x62, count: 255))
            let created = try await client.createFile(longest)
            let found8 = try await client.lookup(longest)
            XCTAssertEqual(found8.handle, created.entry.handle)
            XCTAssertTrue(FileManager.default.fileExists(atPath: live.path(longest.description)))
        }
    }

    // MARK: - identity and permissions

    func testCallerWithoutPermissionGetsEACCES() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        try await LiveServer.with { _, client in
            let secret = try await client.mkdir("secret", mode: 0o700)
            _ = try await client.createFile("inside", in: secret.handle)
            await XCTAssertErrno(.accessDenied, try await client.lookup("inside", in: secret.handle, caller: self.nobody))
            await XCTAssertErrno(.accessDenied, try await client.createFile("new", in: secret.handle, caller: self.nobody))
            await XCTAssertErrno(.accessDenied, try await client.mkdir("new", in: secret.handle, caller: self.nobody))
            await XCTAssertErrno(.accessDenied, try await client.call(OpendirRequest(handle: secret.handle), caller: self.nobody))
            await XCTAssertErrno(
                .accessDenied, try await client.call(UnlinkRequest(parent: secret.handle, name: "inside"), caller: self.nobody))
            // Root, on the next request of the same thread pool, is not stuck with nobody's identity.
            _ = try await client.lookup("inside", in: secret.handle)
        }
    }

    func testObjectsCreatedByACallerAreOwnedByThatCaller() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        try await LiveServer.with { live, client in
            let user = Caller(uid: 1000, gid: 1000)
            let file = try await client.createFile("mine", caller: user)
            XCTAssertEqual([file.entry.attributes.uid, file.entry.attributes.gid], [1000, 1000])
            _ = try await client.mkdir("mydir", caller: user)
            _ = try await client.call(SymlinkRequest(parent: client.root, name: "mylink", target: [0x78]), caller: user)
            for name in ["mine", "mydir", "mylink"] {
                let st = try onDiskStat(live.path(name))
                XCTAssertEqual(st.st_uid, 1000, name)
                XCTAssertEqual(st.st_gid, 1000, name)
            }
            // The export is sticky (like /tmp): another user cannot remove it.
            await XCTAssertErrno(.permission, try await client.call(UnlinkRequest(parent: client.root, name: "mine"), caller: self.nobody))
            // Supplementary groups count: group 1000 members may write a group-writable file.
            _ = try await client.call(SetattrRequest(handle: file.entry.handle, mode: 0o660), caller: user)
            let member = Caller(uid: 2000, gid: 2000, groups: [1000])
            _ = try await client.call(OpenRequest(handle: file.entry.handle, flags: UInt32(O_WRONLY)), caller: member)
            await XCTAssertErrno(
                .accessDenied, try await client.call(OpenRequest(handle: file.entry.handle, flags: UInt32(O_WRONLY)), caller: self.nobody))
        }
    }

    // MARK: - forged handles and mount points

    func testForgedHandleIsESTALE() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            let real = file.entry.handle
            for index in real.bytes.indices {
                var forged = real
                forged.bytes[index] ^= 0x01
                await XCTAssertErrno(.stale, try await client.call(GetattrRequest(handle: forged)), "byte \(index) flipped")
            }
            var forged = client.root
            forged.bytes[forged.bytes.count - 1] ^= 0x80
            await XCTAssertErrno(.stale, try await client.lookup("f", in: forged))
            await XCTAssertErrno(.stale, try await client.call(GetattrRequest(handle: ObjectHandle(bytes: []))))
            let found9 = try await client.call(GetattrRequest(handle: real))
            XCTAssertEqual(found9.inode, file.entry.attributes.inode)
        }
    }

    func testMountPointBelowTheExportIsEXDEV() async throws {
        try await LiveServer.with { live, client in
            _ = try await client.mkdir("mnt")
            guard mount("none", live.path("mnt"), "tmpfs", 0, nil) == 0 else {
                throw XCTSkip("cannot mount a tmpfs here (\(Errno.current)); EXDEV is unreachable without a mount point")
            }
            defer { umount2(live.path("mnt"), Int32(MNT_DETACH)) }
            try onDiskWrite(live.path("mnt", "other-fs"), [1])
            await XCTAssertErrno(.crossDevice, try await client.lookup("mnt"))
            let listing = try await client.listDirectory(client.root, plus: true)
            let mnt = try XCTUnwrap(listing.first { $0.name == "mnt" })
            XCTAssertNil(mnt.entry, "readdirplus must not hand out a handle on another filesystem")
        }
    }
}

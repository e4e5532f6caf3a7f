import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Open files against a live server: open, create, read, write, flush, release, fsync,
/// fdatasync, fallocate and copy_file_range, with the bytes checked on disk.
final class DataOperationsTests: XCTestCase {
    private let nobody = Caller(uid: 65534, gid: 65534)
    private let unknownFile = FileHandleID(987_654_321)

    // MARK: - create and open

    func testCreateMakesAnOpenFileWithTheGivenMode() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("f", mode: 0o640)
            XCTAssertTrue(created.entry.attributes.isRegularFile)
            XCTAssertEqual(created.entry.attributes.mode & 0o7777, 0o640)
            XCTAssertEqual(UInt32(try onDiskStat(live.path("f")).st_mode) & 0o7777, 0o640)
            try await client.write([1, 2, 3], to: created.file)
            XCTAssertEqual(try onDiskContents(live.path("f")), [1, 2, 3])
            let found = try await client.lookup("f")
            XCTAssertEqual(found.handle, created.entry.handle)
        }
    }

    func testCreateExclusiveOnExistingIsEEXISTAndPlainCreateOpensIt() async throws {
        try await LiveServer.with { live, client in
            _ = try await client.createFile("f", contents: [9, 9])
            let exclusive = UInt32(O_RDWR | O_EXCL)
            await XCTAssertErrno(
                .exists, try await client.call(CreateRequest(parent: client.root, name: "f", mode: 0o644, flags: exclusive)))
            let reopened = try await client.call(CreateRequest(parent: client.root, name: "f", mode: 0o600, flags: UInt32(O_RDWR)))
            let actual1 = try await client.readBytes(reopened.file)
            XCTAssertEqual(actual1, [9, 9])
            XCTAssertEqual(reopened.entry.attributes.mode & 0o7777, 0o644, "an existing file keeps its mode")
            _ = try await client.call(CreateRequest(parent: client.root, name: "f", mode: 0o644, flags: UInt32(O_RDWR | O_TRUNC)))
            XCTAssertEqual(try onDiskContents(live.path("f")), [])
        }
    }

    func testCreateInAFileIsENOTDIRAndOverADirectoryIsEISDIR() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            await XCTAssertErrno(.notDirectory, try await client.createFile("x", in: file.entry.handle))
            _ = try await client.mkdir("d")
            await XCTAssertErrno(.isDirectory, try await client.createFile("d"))
        }
    }

    func testOpenReadOnlyReadsAndRefusesWrites() async throws {
        try await LiveServer.with { live, client in
            try onDiskWrite(live.path("f"), pattern(100, seed: 3))
            let entry = try await client.lookup("f")
            let opened = try await client.call(OpenRequest(handle: entry.handle, flags: UInt32(O_RDONLY)))
            let actual2 = try await client.readBytes(opened.file)
            XCTAssertEqual(actual2, pattern(100, seed: 3))
            let actual3 = try await client.readBytes(opened.file, at: 90, size: 50)
            XCTAssertEqual(actual3, Array(pattern(100, seed: 3).suffix(10)))
            let actual4 = try await client.readBytes(opened.file, at: 100, size: 50)
            XCTAssertEqual(actual4, [], "read at end of file is empty")
            let actual5 = try await client.readBytes(opened.file, at: 1 << 40, size: 50)
            XCTAssertEqual(actual5, [])
            await XCTAssertErrno(.badFileHandle, try await client.write([1], to: opened.file))
            XCTAssertEqual(try onDiskContents(live.path("f")), pattern(100, seed: 3))
        }
    }

    func testOpenWithTruncateAndAppend() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("f", contents: [1, 2, 3])
            let appending = try await client.call(
                OpenRequest(handle: created.entry.handle, flags: UInt32(O_WRONLY | O_APPEND)))
            try await client.write([4, 5], to: appending.file, at: 0)
            XCTAssertEqual(try onDiskContents(live.path("f")), [1, 2, 3, 4, 5], "O_APPEND ignores the offset")
            _ = try await client.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_WRONLY | O_TRUNC)))
            XCTAssertEqual(try onDiskContents(live.path("f")), [])
        }
    }

    func testOpenOfADirectoryIsEISDIRAndOfASpecialFileIsRefused() async throws {
        try await LiveServer.with { _, client in
            await XCTAssertErrno(.isDirectory, try await client.call(OpenRequest(handle: client.root, flags: UInt32(O_RDONLY))))
            let fifo = try await client.call(MknodRequest(parent: client.root, name: "fifo", mode: 0o010644, rdev: 0))
            await XCTAssertErrno(.permission, try await client.call(OpenRequest(handle: fifo.handle, flags: UInt32(O_RDONLY))))
        }
    }

    func testOpenChecksPermissionsAsTheCaller() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        try await LiveServer.with { _, client in
            let secret = try await client.createFile("secret", mode: 0o600, contents: [1])
            await XCTAssertErrno(
                .accessDenied, try await client.call(OpenRequest(handle: secret.entry.handle, flags: UInt32(O_RDONLY)), caller: self.nobody))
            let readable = try await client.createFile("readable", mode: 0o644, contents: [2])
            let opened = try await client.call(OpenRequest(handle: readable.entry.handle, flags: UInt32(O_RDONLY)), caller: self.nobody)
            let actual6 = try await client.readBytes(opened.file)
            XCTAssertEqual(actual6, [2])
            await XCTAssertErrno(
                .accessDenied, try await client.call(OpenRequest(handle: readable.entry.handle, flags: UInt32(O_RDWR)), caller: self.nobody))
        }
    }

    // MARK: - read and write

    func testWriteAtAnOffsetLeavesAHoleOfZeros() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("f")
            try await client.write([7, 8, 9], to: created.file, at: 1 << 20)
            let attributes = try await client.call(GetattrRequest(handle: created.entry.handle))
            XCTAssertEqual(attributes.size, (1 << 20) + 3)
            let actual7 = try await client.readBytes(created.file, at: 0, size: 4096)
            XCTAssertEqual(actual7, Array(repeating: 0, count: 4096))
            let actual8 = try await client.readBytes(created.file, at: (1 << 20) - 1, size: 10)
            XCTAssertEqual(actual8, [0, 7, 8, 9])
            XCTAssertEqual(try onDiskStat(live.path("f")).st_size, (1 << 20) + 3)
        }
    }

    func testOneMebibyteWriteAndReadRoundTripEveryByte() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("big")
            let bytes = pattern(1 << 20, seed: 11)
            try await client.write(bytes, to: created.file, at: 5)
            let actual9 = try await client.readBytes(created.file, at: 5, size: 1 << 20)
            XCTAssertEqual(actual9, bytes)
            XCTAssertEqual(Array(try onDiskContents(live.path("big")).dropFirst(5)), bytes)
        }
    }

    func testRequestsAboveTheTransactionSizeAreEINVAL() async throws {
        try await LiveServer.with { _, client in
            let created = try await client.createFile("f")
            await XCTAssertErrno(.invalid, try await client.readBytes(created.file, size: (1 << 20) + 1))
            await XCTAssertErrno(.invalid, try await client.write(Array(repeating: 1, count: (1 << 20) + 1), to: created.file))
            // The connection survives both.
            let actual10 = try await client.readBytes(created.file)
            XCTAssertEqual(actual10, [])
        }
    }

    // MARK: - flush, fsync, release

    func testFlushFsyncAndFdatasyncSucceedOnAnOpenFile() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("f", contents: [1])
            _ = try await client.call(FlushRequest(file: created.file, owner: LockOwner(1)))
            _ = try await client.call(FsyncRequest(file: created.file, dataOnly: false))
            _ = try await client.call(FsyncRequest(file: created.file, dataOnly: true))
            XCTAssertEqual(try onDiskContents(live.path("f")), [1])
        }
    }

    func testReleaseClosesTheHandleForGood() async throws {
        try await LiveServer.with { _, client in
            let created = try await client.createFile("f", contents: [1])
            _ = try await client.call(ReleaseRequest(file: created.file))
            await XCTAssertErrno(.badFileHandle, try await client.readBytes(created.file))
            await XCTAssertErrno(.badFileHandle, try await client.call(ReleaseRequest(file: created.file)))
            let again = try await client.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDONLY)))
            XCTAssertNotEqual(again.file, created.file, "file handle ids are not reused")
            let actual11 = try await client.readBytes(again.file)
            XCTAssertEqual(actual11, [1])
        }
    }

    func testUnknownFileHandleIsEBADFForEveryFileOperation() async throws {
        try await LiveServer.with { _, client in
            let file = self.unknownFile
            let real = try await client.createFile("f")
            let directory = try await client.call(OpendirRequest(handle: client.root))
            await XCTAssertErrno(.badFileHandle, try await client.readBytes(file))
            await XCTAssertErrno(.badFileHandle, try await client.write([1], to: file))
            await XCTAssertErrno(.badFileHandle, try await client.call(FlushRequest(file: file, owner: LockOwner(0))))
            await XCTAssertErrno(.badFileHandle, try await client.call(ReleaseRequest(file: file)))
            await XCTAssertErrno(.badFileHandle, try await client.call(FsyncRequest(file: file, dataOnly: false)))
            await XCTAssertErrno(.badFileHandle, try await client.call(FallocateRequest(file: file, mode: 0, offset: 0, length: 1)))
            await XCTAssertErrno(
                .badFileHandle,
                try await client.call(
                    CopyFileRangeRequest(source: file, sourceOffset: 0, destination: real.file, destinationOffset: 0, length: 1)))
            await XCTAssertErrno(
                .badFileHandle,
                try await client.call(
                    CopyFileRangeRequest(source: real.file, sourceOffset: 0, destination: file, destinationOffset: 0, length: 1)))
            // A directory handle is not a file handle.
            await XCTAssertErrno(.badFileHandle, try await client.readBytes(directory.file))
            await XCTAssertErrno(.badFileHandle, try await client.call(ReleaseRequest(file: directory.file)))
        }
    }

    func testFileHandlesBelongToTheirConnection() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("f", contents: [1])
            let other = try await live.connect(name: "other")
            await XCTAssertErrno(.badFileHandle, try await other.readBytes(created.file))
            await other.close()
        }
    }

    // MARK: - fallocate

    func testFallocateKeepSizeAllocatesWithoutGrowing() async throws {
        try await LiveServer.with { live, client in
            let created = try await client.createFile("f", contents: pattern(4096, seed: 4))
            let before = try onDiskStat(live.path("f"))
            _ = try await client.call(FallocateRequest(file: created.file, mode: 0x01, offset: 0, length: 1 << 20))
            let after = try onDiskStat(live.path("f"))
            XCTAssertEqual(after.st_size, 4096)
            XCTAssertGreaterThanOrEqual(after.st_blocks, before.st_blocks + 2000, "1 MiB should be allocated")
            _ = try await client.call(FallocateRequest(file: created.file, mode: 0, offset: 0, length: 10_000))
            XCTAssertEqual(try onDiskStat(live.path("f")).st_size, 10_000, "mode 0 extends the size")
            XCTAssertEqual(Array(try onDiskContents(live.path("f")).prefix(4096)), pattern(4096, seed: 4))
        }
    }

    func testFallocatePunchHoleZeroesTheRangeAndKeepsTheRest() async throws {
        try await LiveServer.with { live, client in
            let original = Array(repeating: UInt8(0xAB), count: 3 * 4096)
            let created = try await client.createFile("f", contents: original)
            _ = try await client.call(FallocateRequest(file: created.file, mode: 0x02 | 0x01, offset: 4096, length: 4096))
            var expected = original
            for index in 4096..<8192 { expected[index] = 0 }
            XCTAssertEqual(try onDiskContents(live.path("f")), expected)
            let actual12 = try await client.readBytes(created.file)
            XCTAssertEqual(actual12, expected)
        }
    }

    func testFallocateZeroRangeZeroesTheRange() async throws {
        try await LiveServer.with { live, client in
            let original = pattern(1000, seed: 5)
            let created = try await client.createFile("f", contents: original)
            do {
                _ = try await client.call(FallocateRequest(file: created.file, mode: 0x10, offset: 100, length: 200))
            } catch let error as Errno where error == .notSupported {
                throw XCTSkip("the export's filesystem has no FALLOC_FL_ZERO_RANGE (tmpfs, for one)")
            }
            var expected = original
            for index in 100..<300 { expected[index] = 0 }
            XCTAssertEqual(try onDiskContents(live.path("f")), expected)
        }
    }

    func testFallocateWithUnknownModeIsEOPNOTSUPP() async throws {
        try await LiveServer.with { _, client in
            let created = try await client.createFile("f")
            await XCTAssertErrno(.notSupported, try await client.call(FallocateRequest(file: created.file, mode: 0x40, offset: 0, length: 1)))
        }
    }

    // MARK: - copy_file_range

    func testCopyFileRangeCopiesOnTheServer() async throws {
        try await LiveServer.with { live, client in
            let source = try await client.createFile("src", contents: pattern(10_000, seed: 6))
            let destination = try await client.createFile("dst", contents: [1, 2, 3])
            let copied = try await client.call(
                CopyFileRangeRequest(
                    source: source.file, sourceOffset: 100, destination: destination.file, destinationOffset: 2, length: 5000))
            XCTAssertEqual(copied.count, 5000)
            XCTAssertEqual(try onDiskContents(live.path("dst")), [1, 2] + Array(pattern(10_000, seed: 6)[100..<5100]))
            let pastEnd = try await client.call(
                CopyFileRangeRequest(
                    source: source.file, sourceOffset: 20_000, destination: destination.file, destinationOffset: 0, length: 10))
            XCTAssertEqual(pastEnd.count, 0)
            let readOnly = try await client.call(OpenRequest(handle: destination.entry.handle, flags: UInt32(O_RDONLY)))
            await XCTAssertErrno(
                .badFileHandle,
                try await client.call(
                    CopyFileRangeRequest(
                        source: source.file, sourceOffset: 0, destination: readOnly.file, destinationOffset: 0, length: 10)))
        }
    }
}

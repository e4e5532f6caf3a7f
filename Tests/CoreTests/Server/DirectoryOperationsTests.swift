import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Directory listing against a live server: opendir, readdir (plain and plus, resumable by
/// cookie) and releasedir.
final class DirectoryOperationsTests: XCTestCase {
    /// d_type values.
    private enum DirectoryType {
        static let directory: UInt8 = 4
        static let regular: UInt8 = 8
        static let symbolicLink: UInt8 = 10
    }

    func testReaddirPlusDescribesEveryEntryButDots() async throws {
        try await LiveServer.with { live, client in
            var created: [String: Entry] = [:]
            for index in 0..<5 { created["file\(index)"] = try await client.createFile(FileName("file\(index)")).entry }
            created["dir"] = try await client.mkdir("dir")
            created["link"] = try await client.call(SymlinkRequest(parent: client.root, name: "link", target: [0x78]))
            let entries = try await client.listDirectory(client.root, plus: true)
            XCTAssertEqual(Set(entries.map(\.name.description)), Set(created.keys).union([".", ".."]))
            XCTAssertEqual(entries.count, created.count + 2, "no name twice")
            for entry in entries {
                if entry.name == "." || entry.name == ".." {
                    XCTAssertNil(entry.entry, "\(entry.name) must have no entry")
                    XCTAssertEqual(entry.type, DirectoryType.directory)
                    continue
                }
                let expected = try XCTUnwrap(created[entry.name.description])
                let described = try XCTUnwrap(entry.entry, "\(entry.name) has no entry")
                XCTAssertEqual(described.handle, expected.handle, "\(entry.name)")
                XCTAssertEqual(described.attributes.inode, entry.inode)
                XCTAssertEqual(entry.inode, UInt64(try onDiskStat(live.path(entry.name.description)).st_ino))
                XCTAssertEqual(described.attributes.mode, expected.attributes.mode)
            }
            XCTAssertEqual(entries.first { $0.name == "dir" }?.type, DirectoryType.directory)
            XCTAssertEqual(entries.first { $0.name == "link" }?.type, DirectoryType.symbolicLink)
            XCTAssertEqual(entries.first { $0.name == "file0" }?.type, DirectoryType.regular)
        }
    }

    func testReaddirPlusPairsEachNonUTF8NameWithItsOwnHandle() async throws {
        try await LiveServer.with { _, client in
            // "caf\xE9" (Latin-1) and "caf\u{FFFD}": the second is what the first becomes when
            // its bytes are repaired as UTF-8, so a lossy conversion would swap their handles.
            let latin1 = FileName(bytes: [0x63, 0x61, 0x66, 0xE9])
            let replacement = FileName("caf\u{FFFD}")
            let latin1Entry = try await client.createFile(latin1).entry
            let replacementEntry = try await client.createFile(replacement).entry
            XCTAssertNotEqual(latin1Entry.handle, replacementEntry.handle)
            let found = try await client.lookup(latin1)
            XCTAssertEqual(found.handle, latin1Entry.handle)
            let entries = try await client.listDirectory(client.root, plus: true)
            for (name, expected) in [(latin1, latin1Entry), (replacement, replacementEntry)] {
                let listed = try XCTUnwrap(entries.first { $0.name == name }, "\(name.bytes) not listed")
                let described = try XCTUnwrap(listed.entry, "\(name.bytes) listed without its entry")
                XCTAssertEqual(described.handle, expected.handle, "\(name.bytes) paired with another object's handle")
                XCTAssertEqual(described.attributes.inode, expected.attributes.inode)
            }
        }
    }

    func testReaddirPlusOfLongNamesNeverExceedsTheFrameLimit() async throws {
        try await LiveServer.with { live, client in
            // 4096 names of 250 bytes: as one readdirplus batch that is about 1.6 MB, more than a
            // client accepts in one frame. The server must split it instead of killing the connection.
            let count = Int(ReaddirRequest.maximumBatch)
            let directory = try await client.mkdir("long")
            // Hard links of one file: new names without new inodes, which are slow to make.
            let base = live.path("long", "base")
            try onDiskWrite(base, [1])
            let suffix = String(repeating: "n", count: 243)
            for index in 1..<count {
                XCTAssertEqual(link(base, live.path("long", "\(1_000_000 + index)-" + suffix)), 0)
            }
            let entries = try await client.listDirectory(directory.handle, plus: true, batch: ReaddirRequest.maximumBatch)
            XCTAssertEqual(entries.count, count + 2)
            XCTAssertEqual(Set(entries.map(\.name)).count, count + 2, "a name was listed twice")
            XCTAssertTrue(entries.allSatisfy { $0.entry != nil || $0.name == "." || $0.name == ".." })
        }
    }

    func testReaddirWithoutPlusCarriesNoEntries() async throws {
        try await LiveServer.with { _, client in
            for index in 0..<4 { _ = try await client.createFile(FileName("f\(index)")) }
            let entries = try await client.listDirectory(client.root, plus: false)
            XCTAssertEqual(Set(entries.map(\.name.description)), [".", "..", "f0", "f1", "f2", "f3"])
            XCTAssertTrue(entries.allSatisfy { $0.entry == nil })
        }
    }

    func testReaddirInBatchesOfThreeReturnsEveryNameExactlyOnce() async throws {
        try await LiveServer.with { _, client in
            let names = (0..<40).map { "entry-\($0)" }
            for name in names { _ = try await client.createFile(FileName(name)) }
            let entries = try await client.listDirectory(client.root, plus: true, batch: 3)
            let listed = entries.map(\.name.description).filter { $0 != "." && $0 != ".." }
            XCTAssertEqual(listed.count, names.count, "duplicates or losses across batches")
            XCTAssertEqual(Set(listed), Set(names))
        }
    }

    func testReaddirResumesFromACookieOnAnotherRequestAndRestartsFromZero() async throws {
        try await LiveServer.with { _, client in
            for index in 0..<12 { _ = try await client.createFile(FileName("n\(index)")) }
            let opened = try await client.call(OpendirRequest(handle: client.root))
            var batches: [ReaddirResponse] = []
            var cookie: UInt64 = 0
            repeat {
                let reply = try await client.call(
                    ReaddirRequest(directory: opened.file, cookie: cookie, maximumEntries: 3, plus: false))
                batches.append(reply)
                cookie = reply.entries.last?.cookie ?? cookie
            } while batches.last?.isEnd == false
            XCTAssertTrue(batches.dropLast().allSatisfy { $0.entries.count == 3 })
            let all = batches.flatMap(\.entries)
            XCTAssertEqual(all.count, 14)

            // Resume after the fifth entry on a fresh directory handle: the rest, in order.
            let second = try await client.call(OpendirRequest(handle: client.root))
            let rest = try await client.call(
                ReaddirRequest(directory: second.file, cookie: all[4].cookie, maximumEntries: 100, plus: false))
            XCTAssertEqual(rest.entries.map(\.name), all.dropFirst(5).map(\.name))
            XCTAssertTrue(rest.isEnd)

            // Going back to an earlier cookie, and to 0, on the first handle.
            let back = try await client.call(
                ReaddirRequest(directory: opened.file, cookie: all[1].cookie, maximumEntries: 2, plus: false))
            XCTAssertEqual(back.entries.map(\.name), all[2..<4].map(\.name))
            let restart = try await client.call(ReaddirRequest(directory: opened.file, cookie: 0, maximumEntries: 100, plus: false))
            XCTAssertEqual(restart.entries.map(\.name), all.map(\.name))
            XCTAssertTrue(restart.isEnd)
            let atEnd = try await client.call(
                ReaddirRequest(directory: opened.file, cookie: all.last!.cookie, maximumEntries: 5, plus: false))
            XCTAssertEqual(atEnd.entries, [])
            XCTAssertTrue(atEnd.isEnd)
        }
    }

    func testEmptyDirectoryListsOnlyDots() async throws {
        try await LiveServer.with { _, client in
            let directory = try await client.mkdir("empty")
            let entries = try await client.listDirectory(directory.handle, plus: true)
            XCTAssertEqual(Set(entries.map(\.name.description)), [".", ".."])
            let dotdot = try XCTUnwrap(entries.first { $0.name == ".." })
            XCTAssertEqual(dotdot.inode, client.hello.root.attributes.inode)
        }
    }

    func testReaddirBatchSizeOutsideLimitsIsEINVAL() async throws {
        try await LiveServer.with { _, client in
            let opened = try await client.call(OpendirRequest(handle: client.root))
            for size in [0, ReaddirRequest.maximumBatch + 1] {
                await XCTAssertErrno(
                    .invalid,
                    try await client.call(ReaddirRequest(directory: opened.file, cookie: 0, maximumEntries: size, plus: false)))
            }
        }
    }

    func testOpendirOfAFileIsENOTDIR() async throws {
        try await LiveServer.with { _, client in
            let file = try await client.createFile("f")
            await XCTAssertErrno(.notDirectory, try await client.call(OpendirRequest(handle: file.entry.handle)))
        }
    }

    func testReleasedirClosesTheHandleAndUnknownHandlesAreEBADF() async throws {
        try await LiveServer.with { _, client in
            let opened = try await client.call(OpendirRequest(handle: client.root))
            let file = try await client.createFile("f")
            await XCTAssertErrno(
                .badFileHandle,
                try await client.call(ReaddirRequest(directory: file.file, cookie: 0, maximumEntries: 1, plus: false)),
                "a file handle is not a directory handle")
            await XCTAssertErrno(.badFileHandle, try await client.call(ReleasedirRequest(directory: file.file)))
            _ = try await client.call(ReleasedirRequest(directory: opened.file))
            await XCTAssertErrno(
                .badFileHandle,
                try await client.call(ReaddirRequest(directory: opened.file, cookie: 0, maximumEntries: 1, plus: false)))
            await XCTAssertErrno(.badFileHandle, try await client.call(ReleasedirRequest(directory: opened.file)))
        }
    }
}

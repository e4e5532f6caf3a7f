import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// What a hostile or broken peer can do to a live server: each protocol violation closes only
/// its own connection while a well-behaved client carries on, and nothing lets a client reach
/// outside the export.
final class HostileInputTests: XCTestCase {
    /// A valid header with chosen fields, for frames that break the protocol on purpose.
    private func header(
        flags: MessageHeader.Flags = [], opcode: UInt16, transaction: UInt64 = 1, payloadLength: UInt32
    ) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(ProtocolVersion.magic, endianness: .little)
        buffer.writeInteger(UInt8(ProtocolVersion.current))
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(opcode, endianness: .little)
        buffer.writeInteger(transaction, endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(payloadLength, endianness: .little)
        return buffer
    }

    /// Opens a raw connection, lets `attack` misbehave on it, and checks that the server closed
    /// it, counted a protocol error, and still serves `bystander`.
    private func assertClosesOnlyTheAttacker(
        _ live: LiveServer, _ bystander: RPCClient, _ name: String,
        file: StaticString = #filePath, line: UInt = #line,
        _ attack: (RawConnection) async throws -> Void
    ) async throws {
        let errorsBefore = live.server.statistics.protocolErrors.load(ordering: .relaxed)
        let raw = try await RawConnection.connect(port: live.port)
        do {
            try await attack(raw)
            try await raw.waitForClose()
        } catch {
            await raw.close()
            XCTFail("\(name): \(error)", file: file, line: line)
            return
        }
        // The attacker can see its socket close before the server's event loop has finished
        // the close path that counts the violation (NIO closes the descriptor first), so give
        // the count a moment to arrive rather than reading it once.
        var errorsAfter = live.server.statistics.protocolErrors.load(ordering: .relaxed)
        for _ in 0..<200 where errorsAfter == errorsBefore {
            try await Task.sleep(for: .milliseconds(10))
            errorsAfter = live.server.statistics.protocolErrors.load(ordering: .relaxed)
        }
        XCTAssertEqual(errorsAfter, errorsBefore + 1, "\(name): the server should log one violation", file: file, line: line)
        let entry = try await bystander.lookup("canary-in-export")
        XCTAssertTrue(entry.attributes.isRegularFile, "\(name): the well-behaved client stopped working", file: file, line: line)
    }

    func testEachProtocolViolationClosesOnlyThatConnection() async throws {
        try await LiveServer.with { live, client in
            _ = try await client.createFile("canary-in-export")

            try await self.assertClosesOnlyTheAttacker(live, client, "random garbage") { raw in
                var generator = SplitMix64(seed: 42)
                var garbage = ByteBuffer()
                for _ in 0..<4096 { garbage.writeInteger(UInt8.random(in: 0...255, using: &generator)) }
                try await raw.send(garbage)
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "4 GiB payload") { raw in
                try await raw.send(self.header(opcode: Opcode.write.rawValue, payloadLength: .max))
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "truncated frame then close") { raw in
                var frame = FrameEncoding.request(
                    HelloRequest(clientName: "cut"), caller: .root, transaction: TransactionID(1), allocator: raw.channel.allocator)
                frame.moveWriterIndex(to: frame.writerIndex - 3)
                try await raw.send(frame)
                try await raw.channel.close(mode: .output)
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "unknown opcode") { raw in
                try await raw.send(self.header(opcode: 999, payloadLength: 0))
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "request before HELLO") { raw in
                try await raw.send(
                    FrameEncoding.request(
                        GetattrRequest(handle: client.root), caller: .root, transaction: TransactionID(1),
                        allocator: raw.channel.allocator))
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "reply-flagged frame") { raw in
                let hello = try await raw.hello()
                XCTAssertEqual(hello.header.status, 0)
                try await raw.send(
                    FrameEncoding.reply(EmptyResponse(), opcode: .unlink, transaction: TransactionID(2), allocator: raw.channel.allocator))
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "notice-flagged frame") { raw in
                _ = try await raw.hello()
                try await raw.send(
                    FrameEncoding.notice(
                        InvalidateNotice(handle: client.root, offset: 0, length: 0), allocator: raw.channel.allocator))
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "second HELLO") { raw in
                _ = try await raw.hello()
                try await raw.send(
                    FrameEncoding.request(
                        HelloRequest(clientName: "again"), caller: .root, transaction: TransactionID(2),
                        allocator: raw.channel.allocator))
            }
            try await self.assertClosesOnlyTheAttacker(live, client, "malformed payload") { raw in
                _ = try await raw.hello()
                var payload = ByteBuffer(bytes: Caller.root.wireBytes)
                payload.writeInteger(UInt32(500), endianness: .little)  // a handle of 500 bytes: over the cap
                payload.writeBytes([0, 0])
                var frame = self.header(
                    opcode: Opcode.lookup.rawValue, transaction: 2, payloadLength: UInt32(payload.readableBytes))
                frame.writeBuffer(&payload)
                try await raw.send(frame)
            }
            // The bystander's own connection never saw any of it.
            XCTAssertTrue(client.channel.isActive)
            let after = try await client.call(GetattrRequest(handle: client.root))
            XCTAssertTrue(after.isDirectory)
        }
    }

    func testHelloWithoutACommonVersionIsAnsweredThenClosed() async throws {
        try await LiveServer.with { live, client in
            let raw = try await RawConnection.connect(port: live.port)
            let hello = HelloRequest(
                oldestVersion: ProtocolVersion.current + 1, newestVersion: ProtocolVersion.current + 5, clientName: "future")
            try await raw.send(
                FrameEncoding.request(hello, caller: .root, transaction: TransactionID(7), allocator: raw.channel.allocator))
            do {
                try await raw.waitForClose()
            } catch {
                await raw.close()
                throw error
            }
            let frames = raw.receivedFrames
            XCTAssertEqual(frames.count, 1)
            XCTAssertEqual(frames.first?.header.status, UInt32(EPROTONOSUPPORT))
            XCTAssertEqual(frames.first?.header.transaction, TransactionID(7))
            _ = try await client.call(GetattrRequest(handle: client.root))
        }
    }

    func testExtremeOffsetsSizesAndTimesAreErrorsNotCrashes() async throws {
        try await LiveServer.with { _, client in
            let created = try await client.createFile("f", contents: [1, 2, 3])
            let file = created.file
            let nearMax = UInt64(Int64.max) - 10
            for offset in [UInt64.max, UInt64(Int64.max) + 1] {
                await XCTAssertErrno(.invalid, try await client.readBytes(file, at: offset, size: 10), "read at \(offset)")
                await XCTAssertErrno(.invalid, try await client.write([1], to: file, at: offset), "write at \(offset)")
                await XCTAssertErrno(
                    .invalid, try await client.call(FallocateRequest(file: file, mode: 0, offset: offset, length: 1)))
                await XCTAssertErrno(
                    .invalid,
                    try await client.call(
                        CopyFileRangeRequest(source: file, sourceOffset: offset, destination: file, destinationOffset: 0, length: 1)))
            }
            // Offsets the kernel refuses: answered with its errno, and the server lives on.
            await self.assertFails(try await client.readBytes(file, at: nearMax, size: 1 << 20))
            await self.assertFails(try await client.write(Array(repeating: 1, count: 100), to: file, at: nearMax))
            await self.assertFails(try await client.call(FallocateRequest(file: file, mode: 0, offset: nearMax, length: nearMax)))
            await XCTAssertErrno(Errno(EFBIG), try await client.call(SetattrRequest(handle: created.entry.handle, size: .max)))
            _ = try? await client.call(
                SetattrRequest(
                    handle: created.entry.handle, accessTime: .set(Timestamp(seconds: .min, nanoseconds: 0)),
                    modificationTime: .set(Timestamp(seconds: .max, nanoseconds: 999_999_999))))
            let bytes = try await client.readBytes(file)
            XCTAssertEqual(bytes, [1, 2, 3])
        }
    }

    func testImpossibleCallerIdentityIsRefusedWithoutLeakingIntoLaterRequests() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        try await LiveServer.with { live, client in
            // uid/gid 0xFFFFFFFF is "(uid_t)-1", which setfsuid treats as "no change".
            for caller in [Caller(uid: .max, gid: 1000), Caller(uid: 1000, gid: .max)] {
                for index in 0..<8 {
                    await XCTAssertErrno(.permission, try await client.createFile(FileName("never-\(index)"), caller: caller))
                }
            }
            // Every pool thread that refused must still switch correctly for the next callers.
            for index in 0..<16 {
                let user = Caller(uid: 1000 + UInt32(index), gid: 2000 + UInt32(index))
                let created = try await client.createFile(FileName("owned-\(index)"), caller: user)
                XCTAssertEqual([created.entry.attributes.uid, created.entry.attributes.gid], [user.uid, user.gid])
                let st = try onDiskStat(live.path("owned-\(index)"))
                XCTAssertEqual([st.st_uid, st.st_gid], [user.uid, user.gid])
                let asRoot = try await client.createFile(FileName("root-\(index)"))
                XCTAssertEqual([asRoot.entry.attributes.uid, asRoot.entry.attributes.gid], [0, 0])
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: live.path("never-0")))
        }
    }

    func testNamesThatClimbOrContainSlashesAreEINVAL() async throws {
        try await LiveServer.with { _, client in
            for name: FileName in ["..", "../..", "../../etc", "/etc/passwd", "a/../../b", "etc/passwd"] {
                await XCTAssertErrno(.invalid, try await client.lookup(name), "\(name)")
                await XCTAssertErrno(.invalid, try await client.createFile(name), "\(name)")
            }
        }
    }

    func testSymlinksOutOfTheExportAreNeverFollowed() async throws {
        try await LiveServer.with { live, client in
            let outside = live.export.deletingLastPathComponent().appendingPathComponent("canary-outside").path
            try onDiskWrite(outside, Array("untouched".utf8), mode: 0o644)
            // An access time older than the modification time: under relatime any read updates it.
            var times = [
                timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_100_000_000, tv_nsec: 0),
            ]
            XCTAssertEqual(utimensat(AT_FDCWD, outside, &times, 0), 0)
            let before = try onDiskStat(outside)

            try FileManager.default.createSymbolicLink(atPath: live.path("etc-link"), withDestinationPath: "/etc")
            try FileManager.default.createSymbolicLink(atPath: live.path("canary-link"), withDestinationPath: outside)
            _ = try await client.call(SymlinkRequest(parent: client.root, name: "made-link", target: Array(outside.utf8)))

            let etc = try await client.lookup("etc-link")
            XCTAssertTrue(etc.attributes.isSymbolicLink, "the link itself, not /etc")
            XCTAssertEqual(etc.attributes.size, 4)
            await XCTAssertErrno(.notDirectory, try await client.lookup("passwd", in: etc.handle))
            await XCTAssertErrno(.notDirectory, try await client.call(OpendirRequest(handle: etc.handle)))
            await XCTAssertErrno(.notDirectory, try await client.createFile("planted", in: etc.handle))
            await XCTAssertErrno(.loop, try await client.call(OpenRequest(handle: etc.handle, flags: UInt32(O_RDONLY))))
            let target = try await client.call(ReadlinkRequest(handle: etc.handle))
            XCTAssertEqual(target.target, Array("/etc".utf8))

            for name: FileName in ["canary-link", "made-link"] {
                let link = try await client.lookup(name)
                XCTAssertTrue(link.attributes.isSymbolicLink)
                XCTAssertNotEqual(link.attributes.inode, UInt64(before.st_ino))
                let handle = link.handle
                await XCTAssertErrno(.loop, try await client.call(OpenRequest(handle: handle, flags: UInt32(O_RDONLY))))
                await XCTAssertErrno(.loop, try await client.call(OpenRequest(handle: handle, flags: UInt32(O_WRONLY | O_TRUNC))))
                await self.assertFails(try await client.call(GetxattrRequest(handle: handle, name: Array("user.x".utf8), size: 0)))
                // Listing a link's attributes reveals nothing: an empty list, as on a local disk
                // (the store never resolves a link through procfs).
                let linkAttributes = try await client.call(ListxattrRequest(handle: handle, size: 0))
                XCTAssertEqual(linkAttributes.size, 0)
                await self.assertFails(
                    try await client.call(SetxattrRequest(handle: handle, name: Array("user.x".utf8), value: [1], flags: 0)))
                await self.assertFails(try await client.call(SetattrRequest(handle: handle, mode: 0o777)))
                await self.assertFails(try await client.call(SetattrRequest(handle: handle, size: 0)))
                // Times apply to the link itself (as `touch -h` does), never to its target: the
                // canary outside keeps its times (checked below).
                let touched = try await client.call(
                    SetattrRequest(
                        handle: handle, accessTime: .set(Timestamp(seconds: 7, nanoseconds: 8)),
                        modificationTime: .set(Timestamp(seconds: 9, nanoseconds: 10))))
                XCTAssertTrue(touched.isSymbolicLink)
                XCTAssertEqual(touched.modificationTime, Timestamp(seconds: 9, nanoseconds: 10))
                // A hard link links the link itself (as on a local disk), never its target.
                let hard = try await client.call(
                    LinkRequest(target: handle, newParent: client.root, name: FileName("hard-\(name)")))
                XCTAssertTrue(hard.attributes.isSymbolicLink)
                XCTAssertEqual(hard.handle, handle)
                // Ownership changes apply to the link itself (lchown), never to its target.
                if (try? await client.call(SetattrRequest(handle: handle, uid: 4321, gid: 4321))) != nil {
                    XCTAssertEqual(try onDiskStat(live.path(name.description)).st_uid, 4321, "chown applies to the link")
                }
                let entries = try await client.listDirectory(client.root, plus: true)
                let listed = try XCTUnwrap(entries.first { $0.name == name })
                XCTAssertEqual(listed.type, 10, "readdirplus describes the link, not its target")
                XCTAssertEqual(listed.entry?.attributes.isSymbolicLink, true)
            }

            let after = try onDiskStat(outside)
            XCTAssertEqual(try onDiskContents(outside), Array("untouched".utf8))
            XCTAssertEqual(after.st_size, before.st_size)
            XCTAssertEqual(after.st_mode, before.st_mode)
            XCTAssertEqual(after.st_uid, before.st_uid)
            XCTAssertEqual(after.st_gid, before.st_gid)
            XCTAssertEqual(after.st_mtim.tv_sec, before.st_mtim.tv_sec)
            XCTAssertEqual(after.st_ctim.tv_sec, before.st_ctim.tv_sec, "metadata of the target changed")
            XCTAssertEqual(after.st_ctim.tv_nsec, before.st_ctim.tv_nsec, "metadata of the target changed")
            if try Self.readsUpdateAccessTime(in: live.export.deletingLastPathComponent().path) {
                XCTAssertEqual(after.st_atim.tv_sec, before.st_atim.tv_sec, "the target was read")
            }
        }
    }

    /// Asserts that `expression` fails with some errno (which one depends on the path taken).
    private func assertFails<T>(
        _ expression: @autoclosure () async throws -> T, file: StaticString = #filePath, line: UInt = #line
    ) async {
        do {
            let value = try await expression()
            XCTFail("expected an error, got \(value)", file: file, line: line)
        } catch {
            XCTAssertTrue(error is Errno, "expected an errno, got \(error)", file: file, line: line)
        }
    }

    /// Whether reading a file in `directory` updates its access time here (not on noatime
    /// mounts), so an unchanged access time proves a file was not read.
    private static func readsUpdateAccessTime(in directory: String) throws -> Bool {
        let probe = directory + "/atime-probe"
        try onDiskWrite(probe, [1])
        defer { unlink(probe) }
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_100_000_000, tv_nsec: 0)]
        guard utimensat(AT_FDCWD, probe, &times, 0) == 0 else { return false }
        _ = try onDiskContents(probe)
        return try onDiskStat(probe).st_atim.tv_sec != 1_000_000_000
    }
}


extension Caller {
    /// The caller's encoding, to splice into hand-made frames.
    fileprivate var wireBytes: [UInt8] { Array(encoded(self).readableBytesView) }
}

import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import Synchronization
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A resilient `RPCClient` (the mount's) against a live server that drops replies, loses its
/// connection or restarts: requests are kept, resent, and applied exactly once.
final class ReconnectTests: XCTestCase {
    func testDroppedRepliesOfCreateRenameAndAppendAreAnsweredFromTheReplyCache() async throws {
        let live = try await LiveServer.start {
            $0.faults = FaultInjection(dropReplyOnce: [.create, .rename, .write])
        }
        let client = try await live.connectResilient()
        try await live.cleaningUp(client) {
        let root = client.hello.root.handle
        // O_EXCL create: applied, reply dropped, resent; a second application would be EEXIST.
        let created = try await client.call(
            CreateRequest(parent: root, name: "log", mode: 0o644, flags: UInt32(O_RDWR | O_CREAT | O_EXCL | O_APPEND)))
        XCTAssertEqual(client.reconnects, 1)
        // O_APPEND write: a second application would append twice.
        var data = ByteBuffer()
        data.writeString("once\n")
        let written = try await client.call(WriteRequest(file: created.file, offset: 0, data: data))
        XCTAssertEqual(written.count, 5)
        XCTAssertEqual(client.reconnects, 2)
        // Rename: a second application would be ENOENT.
        _ = try await client.call(
            RenameRequest(oldParent: root, oldName: "log", newParent: root, newName: "renamed", flags: []))
        XCTAssertEqual(client.reconnects, 3)
        XCTAssertEqual(try onDiskContents(live.path("renamed")), Array("once\n".utf8))
        XCTAssertThrowsError(try onDiskStat(live.path("log")))
        // The file opened before the drops is still open on the resumed session.
        let again = try await client.call(WriteRequest(file: created.file, offset: 0, data: data))
        XCTAssertEqual(again.count, 5)
        XCTAssertEqual(try onDiskContents(live.path("renamed")), Array("once\nonce\n".utf8))
        }
    }

    func testAClosedConnectionIsReplacedAndTheSessionResumed() async throws {
        let live = try await LiveServer.start()
        let client = try await live.connectResilient()
        try await live.cleaningUp(client) {
        let created = try await client.createFile("f", contents: Array("abc".utf8))
        try await client.channel.close()
        // The next request waits for the new connection, on the same session and file handle.
        try await client.write(Array("xyz".utf8), to: created.file, at: 3)
        XCTAssertEqual(client.reconnects, 1)
        let contents = try await client.readBytes(created.file)
        XCTAssertEqual(contents, Array("abcxyz".utf8))
        }
    }

    func testAfterAServerRestartOpenFilesAreReopenedUnderTheirOldHandles() async throws {
        let live = try await LiveServer.start()
        let port = live.port
        let client = try await live.connectResilient()
        let created = try await client.createFile("kept", contents: Array("before".utf8))
        // A new server over the same export and state directory (same handle key), same port.
        await live.server.shutdown(gracePeriod: .milliseconds(100))
        let store = try LocalDirectoryStore(export: live.export.path, stateDirectory: live.stateDirectory.path)
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        let restarted = try await PohmelfsServer.start(
            store: store,
            configuration: .init(host: "127.0.0.1", port: port, ioThreads: 2),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        defer {
            Task {
                await restarted.shutdown(gracePeriod: .milliseconds(100))
                try? FileManager.default.removeItem(at: live.export.deletingLastPathComponent())
            }
        }
        try await client.write(Array("-after".utf8), to: created.file, at: 6)
        XCTAssertGreaterThanOrEqual(client.reconnects, 1)
        XCTAssertEqual(try onDiskContents(live.path("kept")), Array("before-after".utf8))
        await client.close()
    }

    func testASoftClientFailsRequestsWithTimedOutWhenTheServerStaysAway() async throws {
        let live = try await LiveServer.start()
        let client = try await live.connectResilient(soft: .milliseconds(300))
        let root = client.hello.root.handle
        _ = try await client.call(GetattrRequest(handle: root))
        await live.stop()
        // Bounded, so a client that waited for ever (hard) fails the test instead of hanging it.
        let outcome: String = try await withDeadline(.seconds(30), "soft timeout") {
            do {
                _ = try await client.call(GetattrRequest(handle: root))
                return "answered"
            } catch let error as ClientError {
                return error.code.rawValue
            }
        }
        XCTAssertEqual(outcome, ClientError.Code.timedOut.rawValue)
        XCTAssertEqual(Errno(clientFailure: ClientError(.timedOut, "")), .io)
        await client.close()
    }
}

extension ReconnectTests {
    func testABlockedLockRequestIsResentAfterTheConnectionDropsAndGrantedLater() async throws {
        let live = try await LiveServer.start()
        let holder = try await live.connect(name: "holder")
        let client = try await live.connectResilient()
        do {
            let created = try await holder.createFile("f")
            let mine = try await client.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDWR)))
            func lock(_ file: FileHandleID, _ owner: UInt64, _ type: FileLockType, wait: Bool) -> SetlkRequest {
                SetlkRequest(
                    file: file, owner: LockOwner(owner), flavor: .posix, type: type, range: .wholeFile, pid: 1,
                    wait: wait)
            }
            _ = try await holder.call(lock(created.file, 1, .write, wait: false))
            let waiting = Task { try await client.call(lock(mine.file, 2, .write, wait: true)) }
            let waiterQueued: @Sendable () async throws -> Void = {
                while try await holder.call(LockTableRequest()).entries.filter(\.waiting).isEmpty {
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            try await withDeadline(.seconds(20), "the blocked SETLK queued", waiterQueued)
            // The connection drops: the server withdraws the waiting request; the client resends
            // it on its resumed session, where it waits again.
            try await client.channel.close()
            try await withDeadline(.seconds(20), "the reconnect") {
                while client.reconnects == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            try await withDeadline(.seconds(20), "the resent SETLK queued again", waiterQueued)
            _ = try await holder.call(lock(created.file, 1, .unlock, wait: false))
            _ = try await withDeadline(.seconds(20), "the resent blocked SETLK") { try await waiting.value }
        } catch {
            await holder.close()
            await client.close()
            await live.stop()
            throw error
        }
        await holder.close()
        await client.close()
        await live.stop()
    }
}

extension ReconnectTests {
    func testAResumedSessionHasTheFilesItCachedInvalidatedWhole() async throws {
        let live = try await LiveServer.start()
        let notices = NoticeLog()
        let client = try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: live.port)], clientName: "cacher", group: MultiThreadedEventLoopGroup.singleton,
            resilience: LiveServer.quietResilience(), onNotice: { notices.append($0) })
        try await live.cleaningUp(client) {
            let created = try await client.createFile("cached")
            _ = try await client.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDONLY), caching: true))
            XCTAssertTrue(notices.invalidated.isEmpty)
            // While it is away, others' changes are not invalidated on its side: on resume the
            // whole file is.
            try await client.channel.close()
            try await withDeadline(.seconds(20), "the resumed session's invalidation") {
                while notices.invalidated.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            }
            XCTAssertEqual(notices.invalidated, [InvalidateNotice(handle: created.entry.handle, offset: 0, length: 0)])
            XCTAssertEqual(client.reconnects, 1)
        }
    }
}

/// Notices a client received, from any thread.
private final class NoticeLog: Sendable {
    private let frames = Mutex<[Frame]>([])
    func append(_ frame: Frame) { self.frames.withLock { $0.append(frame) } }
    var invalidated: [InvalidateNotice] {
        self.frames.withLock { $0 }.compactMap { try? InvalidateNotice.decode(payload: $0.payload) }
    }
}

extension ReconnectTests {
    func testAServerThatAcceptsButNeverAnswersHelloIsGivenUpOn() async throws {
        let live = try await LiveServer.start()
        let port = live.port
        var policy = LiveServer.quietResilience()
        policy.helloTimeout = .milliseconds(200)
        let client = try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: port)], clientName: "patient", group: MultiThreadedEventLoopGroup.singleton,
            resilience: policy)
        let root = client.hello.root.handle
        await live.server.shutdown(gracePeriod: .milliseconds(100))
        // A listener that accepts and then says nothing; its accepted connections stay open
        // after the listener itself closes.
        let accepted = AcceptedChannels()
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.append(channel)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: port).get()
        try await withDeadline(.seconds(20), "a connection to the silent listener") {
            while accepted.count == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        try await silent.close()
        let store = try LocalDirectoryStore(export: live.export.path, stateDirectory: live.stateDirectory.path)
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        let restarted = try await PohmelfsServer.start(
            store: store, configuration: .init(host: "127.0.0.1", port: port, ioThreads: 2),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        do {
            // Only a client that gave the silent connection up reaches the real server.
            _ = try await withDeadline(.seconds(20), "a request after the silent server") {
                try await client.call(GetattrRequest(handle: root))
            }
        } catch {
            await client.close()
            await restarted.shutdown(gracePeriod: .milliseconds(100))
            accepted.closeAll()
            throw error
        }
        await client.close()
        await restarted.shutdown(gracePeriod: .milliseconds(100))
        accepted.closeAll()
        try? FileManager.default.removeItem(at: live.export.deletingLastPathComponent())
    }
}

/// Connections a test listener accepted, kept open until the test closes them.
private final class AcceptedChannels: Sendable {
    private let channels = Mutex<[any Channel]>([])
    func append(_ channel: any Channel) { self.channels.withLock { $0.append(channel) } }
    var count: Int { self.channels.withLock { $0.count } }
    func closeAll() { self.channels.withLock { $0 }.forEach { $0.close(promise: nil) } }
}

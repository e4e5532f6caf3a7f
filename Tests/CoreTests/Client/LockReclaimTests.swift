import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The grace period after a server restart: the holders of locks take them back (SETLK
/// `reclaim`) and nobody else gets a lock until it ends.
final class LockReclaimTests: XCTestCase {
    private func lock(
        _ file: FileHandleID, owner: UInt64, _ type: FileLockType = .write, wait: Bool = false, reclaim: Bool = false
    ) -> SetlkRequest {
        SetlkRequest(
            file: file, owner: LockOwner(owner), flavor: .posix, type: type, range: .wholeFile, pid: 1, wait: wait,
            reclaim: reclaim)
    }

    func testDuringTheGracePeriodOnlyReclaimsAreGrantedAndBlockedRequestsWaitForItsEnd() async throws {
        try await LiveServer.with(configure: { $0.gracePeriod = .seconds(1) }) { live, holder in
            let other = try await live.connect(name: "other")
            do {
                let held = try await holder.createFile("held")
                let free = try await holder.createFile("free")
                let heldThere = try await other.call(OpenRequest(handle: held.entry.handle, flags: UInt32(O_RDWR)))
                let freeThere = try await other.call(OpenRequest(handle: free.entry.handle, flags: UInt32(O_RDWR)))
                _ = try await holder.call(self.lock(held.file, owner: 1, reclaim: true))
                // A new lock, even without any conflict, is refused (non-blocking) or held back.
                await XCTAssertErrno(Errno(EAGAIN), try await other.call(self.lock(freeThere.file, owner: 2)))
                _ = try await other.call(self.lock(freeThere.file, owner: 2, wait: true))
                // The grace period is over now: the reclaimed lock is held, others are granted.
                await XCTAssertErrno(Errno(EAGAIN), try await other.call(self.lock(heldThere.file, owner: 2)))
                _ = try await holder.call(self.lock(held.file, owner: 1, .unlock))
                _ = try await other.call(self.lock(heldThere.file, owner: 2))
            } catch {
                await other.close()
                throw error
            }
            await other.close()
        }
    }

    func testAClientReclaimsItsLocksFromARestartedServer() async throws {
        let live = try await LiveServer.start()
        let port = live.port
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        var policy = ResiliencePolicy(logger: logger)
        policy.initialBackoff = .milliseconds(10)
        policy.maximumBackoff = .milliseconds(100)
        let client = try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: port)], clientName: "holder", group: MultiThreadedEventLoopGroup.singleton,
            resilience: policy)
        let created = try await client.createFile("locked")
        _ = try await client.call(self.lock(created.file, owner: 7))
        await live.server.shutdown(gracePeriod: .milliseconds(100))
        let store = try LocalDirectoryStore(export: live.export.path, stateDirectory: live.stateDirectory.path)
        var serverLogger = Logger(label: "test.server")
        serverLogger.logLevel = .critical
        var configuration = PohmelfsServer<LocalDirectoryStore>.Configuration(host: "127.0.0.1", port: port, ioThreads: 2)
        configuration.gracePeriod = .seconds(1)
        let restarted = try await PohmelfsServer.start(
            store: store, configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
            logger: serverLogger)
        let other = try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: port)], clientName: "other", group: MultiThreadedEventLoopGroup.singleton)
        do {
            // Any request makes the holder reconnect, reopen and reclaim before it is resent.
            _ = try await client.call(GetattrRequest(handle: client.hello.root.handle))
            XCTAssertGreaterThanOrEqual(client.reconnects, 1)
            let opened = try await other.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDWR)))
            // Only a reclaim can have put the holder's lock into the new server's table.
            let table = try await other.call(LockTableRequest())
            XCTAssertEqual(table.entries.map(\.owner), [LockOwner(7)], "\(table.entries)")
            await XCTAssertErrno(Errno(EAGAIN), try await other.call(self.lock(opened.file, owner: 8)))
            _ = try await client.call(self.lock(created.file, owner: 7, .unlock))
            // Blocking: held back until the grace period ends, then granted.
            _ = try await other.call(self.lock(opened.file, owner: 8, wait: true))
        } catch {
            await other.close()
            await client.close()
            await restarted.shutdown(gracePeriod: .milliseconds(100))
            throw error
        }
        await other.close()
        await client.close()
        await restarted.shutdown(gracePeriod: .milliseconds(100))
        try? FileManager.default.removeItem(at: live.export.deletingLastPathComponent())
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

/// Object handles outlive the server process that issued them (DESIGN "Handles stay valid
/// across a server restart"), and only under the same key.
final class HandlePersistenceTests: XCTestCase {
    /// A second server over `live`'s export with `stateDirectory`, as after a restart.
    private func restartedServer(_ live: LiveServer, stateDirectory: String) async throws -> PohmelfsServer<LocalDirectoryStore> {
        var logger = Logger(label: "test.restarted")
        logger.logLevel = .critical
        return try await PohmelfsServer.start(
            store: LocalDirectoryStore(export: live.export.path, stateDirectory: stateDirectory),
            configuration: .init(host: "127.0.0.1", port: 0, ioThreads: 2),
            group: MultiThreadedEventLoopGroup.singleton, logger: logger)
    }

    func testHandlesIssuedBeforeARestartStillWork() async throws {
        try XCTSkipUnless(geteuid() == 0, "reopening handles (open_by_handle_at) needs CAP_DAC_READ_SEARCH")
        try await LiveServer.with { live, client in
            let directory = try await client.mkdir("d")
            let file = try await client.createFile("f", in: directory.handle, contents: [1, 2, 3])
            let server = try await self.restartedServer(live, stateDirectory: live.stateDirectory.path)
            let other = try await RPCClient.connect(
                servers: [ServerAddress(host: "127.0.0.1", port: server.localAddress.port!)], clientName: "after-restart",
                group: MultiThreadedEventLoopGroup.singleton)
            do {
                XCTAssertEqual(other.root, client.root, "the root keeps its handle")
                let attributes = try await other.call(GetattrRequest(handle: file.entry.handle))
                XCTAssertEqual(attributes.inode, file.entry.attributes.inode)
                let found = try await other.lookup("f", in: directory.handle)
                XCTAssertEqual(found.handle, file.entry.handle)
                let opened = try await other.call(OpenRequest(handle: file.entry.handle, flags: UInt32(O_RDONLY)))
                let bytes = try await other.readBytes(opened.file)
                XCTAssertEqual(bytes, [1, 2, 3])
            } catch {
                await other.close()
                await server.shutdown(gracePeriod: .seconds(1))
                throw error
            }
            await other.close()
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    func testHandlesUnderAnotherKeyAreESTALE() async throws {
        try await LiveServer.with { live, client in
            let file = try await client.createFile("f")
            let otherState = live.export.deletingLastPathComponent().appendingPathComponent("other-state").path
            let server = try await self.restartedServer(live, stateDirectory: otherState)
            let other = try await RPCClient.connect(
                servers: [ServerAddress(host: "127.0.0.1", port: server.localAddress.port!)], clientName: "other-key",
                group: MultiThreadedEventLoopGroup.singleton)
            XCTAssertNotEqual(other.root, client.root)
            await XCTAssertErrno(.stale, try await other.call(GetattrRequest(handle: file.entry.handle)))
            await XCTAssertErrno(.stale, try await other.lookup("f", in: client.root))
            await other.close()
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }
}

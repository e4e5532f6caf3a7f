import Foundation
import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

/// A handle is used only while its object is beneath the export: a directory an administrator
/// moved out of the export answers ESTALE to everything done through its handle, also after a
/// server restart (NFS `subtree_check`), within a second of the move.
final class SubtreeCheckTests: XCTestCase {
    /// Every use of `handle` (a directory now outside the export) must be ESTALE.
    private func assertUnusable(
        _ client: RPCClient, _ handle: ObjectHandle, file: FileHandleID? = nil, root: ObjectHandle,
        line: UInt = #line
    ) async {
        func expectStale(_ what: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                XCTFail("\(what) through a handle outside the export succeeded", line: line)
            } catch let error as Errno {
                XCTAssertEqual(error, Errno.stale, "\(what)", line: line)
            } catch {
                XCTFail("\(what): \(error)", line: line)
            }
        }
        await expectStale("getattr") { _ = try await client.call(GetattrRequest(handle: handle)) }
        await expectStale("lookup") { _ = try await client.lookup("inside-file", in: handle) }
        await expectStale("create") { _ = try await client.createFile("planted", in: handle) }
        await expectStale("opendir") { _ = try await client.call(OpendirRequest(handle: handle)) }
        await expectStale("rename into the export") {
            _ = try await client.call(
                RenameRequest(oldParent: handle, oldName: "inside-file", newParent: root, newName: "stolen", flags: []))
        }
    }

    /// "moved-away", with "inside-file" in it, made through `client`, then moved out of the
    /// export by an administrator (to "outside", beside the export).
    private func directoryMovedOut(_ live: LiveServer, _ client: RPCClient) async throws -> (Entry, URL) {
        let directory = try await client.mkdir("moved-away")
        _ = try await client.createFile("inside-file", in: directory.handle, contents: [1, 2, 3])
        let outside = live.export.deletingLastPathComponent().appendingPathComponent("outside")
        XCTAssertEqual(rename(live.path("moved-away"), outside.path), 0)
        return (directory, outside)
    }

    func testADirectoryMovedOutOfTheExportCannotBeUsedThroughItsHandle() async throws {
        try await LiveServer.with { live, client in
            let (directory, outside) = try await self.directoryMovedOut(live, client)
            // The server trusts a verdict for a second (LocalDirectoryStore+Confinement).
            try await Task.sleep(for: .milliseconds(1100))
            await self.assertUnusable(client, directory.handle, root: client.root)
            XCTAssertFalse(FileManager.default.fileExists(atPath: outside.appendingPathComponent("planted").path))
            // Moved back, it is usable again: the check is on where the object is now.
            XCTAssertEqual(rename(outside.path, live.path("moved-away")), 0)
            let found = try await client.lookup("inside-file", in: directory.handle)
            XCTAssertTrue(found.attributes.isRegularFile)
        }
    }

    /// An object found in a directory inherits the directory's verdict, not a fresh second: a
    /// file looked up half a second after its directory was moved out stops working when the
    /// directory does.
    func testAnObjectFoundInADirectoryMovedOutStopsWorkingWithIt() async throws {
        try await LiveServer.with { live, client in
            let (directory, _) = try await self.directoryMovedOut(live, client)
            let moved = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(500))
            // Within the directory's second: still answered, as before the move.
            let found = try await client.lookup("inside-file", in: directory.handle)
            try await Task.sleep(until: moved + .milliseconds(1100))
            do {
                _ = try await client.call(GetattrRequest(handle: found.handle))
                XCTFail("a file found in a directory moved out of the export was usable after the directory's second")
            } catch let error as Errno {
                XCTAssertEqual(error, Errno.stale)
            }
        }
    }

    func testAfterARestartAHandleOfADirectoryMovedOutIsStale() async throws {
        try XCTSkipUnless(geteuid() == 0, "reopening handles (open_by_handle_at) needs CAP_DAC_READ_SEARCH")
        try await LiveServer.with { live, client in
            let (directory, _) = try await self.directoryMovedOut(live, client)
            var logger = Logger(label: "test.restarted")
            logger.logLevel = .critical
            let server = try await PohmelfsServer.start(
                store: LocalDirectoryStore(export: live.export.path, stateDirectory: live.stateDirectory.path),
                configuration: .init(host: "127.0.0.1", port: 0, ioThreads: 2),
                group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            let other = try await RPCClient.connect(
                servers: [ServerAddress(host: "127.0.0.1", port: server.localAddress.port!)], clientName: "after-restart",
                group: MultiThreadedEventLoopGroup.singleton)
            await self.assertUnusable(other, directory.handle, root: other.root)
            await other.close()
            await server.shutdown(gracePeriod: .seconds(1))
        }
    }

    func testADirectoryDeeperThanPathMaxIsJudgedByWalkingUp() async throws {
        try await LiveServer.with { live, client in
            let component = String(repeating: "d", count: 250)
            var handle = try await client.mkdir(FileName(component)).handle
            for _ in 0..<17 { handle = try await client.mkdir(FileName(component), in: handle).handle }
            _ = try await client.createFile("deep-file", in: handle)
            let found = try await client.lookup("deep-file", in: handle)
            XCTAssertTrue(found.attributes.isRegularFile, "a deep directory inside the export works")
            let outside = live.export.deletingLastPathComponent().appendingPathComponent("outside")
            XCTAssertEqual(rename(live.path(component), outside.path), 0)
            try await Task.sleep(for: .milliseconds(1100))
            do {
                _ = try await client.lookup("deep-file", in: handle)
                XCTFail("a deep directory moved out of the export was still usable")
            } catch let error as Errno {
                XCTAssertEqual(error, Errno.stale)
            }
        }
    }
}

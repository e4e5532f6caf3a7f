import Foundation
import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

/// A real `pohmelfs` server on 127.0.0.1 (an ephemeral port) over a fresh temporary export,
/// for tests that talk to it through the real client library. Always `stop()` it (use `defer`).
final class LiveServer: @unchecked Sendable {
    let export: URL
    let stateDirectory: URL
    let server: PohmelfsServer<LocalDirectoryStore>
    let store: LocalDirectoryStore

    var port: Int { self.server.localAddress.port! }

    /// `configure` adjusts the server's configuration (policy, limits) before it starts.
    static func start(
        maximumTransaction: UInt32 = 1 << 20,
        configure: (inout PohmelfsServer<LocalDirectoryStore>.Configuration) -> Void = { _ in }
    ) async throws -> LiveServer {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pohmelfs-test-\(UUID().uuidString)")
        let export = base.appendingPathComponent("export")
        let state = base.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        // World-writable so tests acting as other users can create files, like /tmp.
        chmod(export.path, 0o1777)
        chmod(base.path, 0o755)
        let store = try LocalDirectoryStore(export: export.path, stateDirectory: state.path)
        var logger = Logger(label: "test.server")
        logger.logLevel = .critical
        var configuration = PohmelfsServer<LocalDirectoryStore>.Configuration(
            host: "127.0.0.1", port: 0, maximumTransaction: maximumTransaction, ioThreads: 4)
        configure(&configuration)
        let server = try await PohmelfsServer.start(
            store: store,
            configuration: configuration,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: logger)
        return LiveServer(export: export, stateDirectory: state, server: server, store: store)
    }

    private init(export: URL, stateDirectory: URL, server: PohmelfsServer<LocalDirectoryStore>, store: LocalDirectoryStore) {
        self.export = export
        self.stateDirectory = stateDirectory
        self.server = server
        self.store = store
    }

    func connect(name: String = "test-client") async throws -> RPCClient {
        try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: self.port)], clientName: name, group: MultiThreadedEventLoopGroup.singleton)
    }

    func stop() async {
        await self.server.shutdown(gracePeriod: .seconds(2))
        try? FileManager.default.removeItem(at: self.export.deletingLastPathComponent())
    }
}

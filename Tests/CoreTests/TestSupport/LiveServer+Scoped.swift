import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

extension LiveServer {
    /// Starts a server, connects one client, runs `body`, and always closes the client and
    /// stops the server, also when `body` throws (the error is rethrown afterwards).
    static func with<T>(
        maximumTransaction: UInt32 = 1 << 20,
        configure: (inout PohmelfsServer<LocalDirectoryStore>.Configuration) -> Void = { _ in },
        _ body: (LiveServer, RPCClient) async throws -> T
    ) async throws -> T {
        let live = try await LiveServer.start(maximumTransaction: maximumTransaction, configure: configure)
        let client: RPCClient
        do {
            client = try await live.connect()
        } catch {
            await live.stop()
            throw error
        }
        do {
            let result = try await body(live, client)
            await client.close()
            await live.stop()
            return result
        } catch {
            await client.close()
            await live.stop()
            throw error
        }
    }

    /// The mount's kind of client policy, quiet and quick to retry: what the tests of a
    /// resilient client connect with.
    static func quietResilience(soft: Duration? = nil) -> ResiliencePolicy {
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        var policy = ResiliencePolicy(softTimeout: soft, logger: logger)
        policy.initialBackoff = .milliseconds(10)
        policy.maximumBackoff = .milliseconds(200)
        return policy
    }

    /// Connects a resilient client (`quietResilience`), as the mount does.
    func connectResilient(name: String = "resilient", soft: Duration? = nil) async throws -> RPCClient {
        try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: self.port)], clientName: name,
            group: MultiThreadedEventLoopGroup.singleton, resilience: Self.quietResilience(soft: soft))
    }

    /// Runs `body`, then closes `client` and stops this server whether it threw or not.
    func cleaningUp(_ client: RPCClient, _ body: () async throws -> Void) async throws {
        try await self.cleaningUp(closing: { await client.close() }, body)
    }

    /// Runs `body`, then closes `raw` and stops this server whether it threw or not.
    func cleaningUp(_ raw: RawConnection, _ body: () async throws -> Void) async throws {
        try await self.cleaningUp(closing: { await raw.close() }, body)
    }

    private func cleaningUp(closing: () async -> Void, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await closing()
            await self.stop()
            throw error
        }
        await closing()
        await self.stop()
    }

    /// The path of `name` inside the export, for checking results on disk.
    func path(_ components: String...) -> String {
        components.reduce(self.export.path) { $0 + "/" + $1 }
    }
}

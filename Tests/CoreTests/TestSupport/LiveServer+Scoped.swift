import NIOCore
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

    /// Runs `body`, then closes `client` and stops this server whether it threw or not.
    func cleaningUp(_ client: RPCClient, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await client.close()
            await self.stop()
            throw error
        }
        await client.close()
        await self.stop()
    }

    /// The path of `name` inside the export, for checking results on disk.
    func path(_ components: String...) -> String {
        components.reduce(self.export.path) { $0 + "/" + $1 }
    }
}

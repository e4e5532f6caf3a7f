import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

/// `RPCClient` against a live server: pipelining, and every request answered exactly once also
/// when the connection is gone.
final class RPCClientTests: XCTestCase {
    func testHelloReportsRootAndNegotiatedLimits() async throws {
        try await LiveServer.with { live, client in
            XCTAssertEqual(client.hello.version, ProtocolVersion.current)
            XCTAssertEqual(client.hello.maximumTransaction, ProtocolVersion.minimumTransactionSize)
            XCTAssertTrue(client.hello.root.attributes.isDirectory)
            XCTAssertTrue(client.hello.capabilities.contains(.readdirPlus))
            var st = stat()
            XCTAssertEqual(stat(live.export.path, &st), 0)
            XCTAssertEqual(client.hello.root.attributes.inode, UInt64(st.st_ino))
        }
    }

    func testPipelinedCallsOnOneConnectionAreEachAnsweredWithTheirOwnReply() async throws {
        try await LiveServer.with { live, client in
            let root = client.hello.root.handle
            for index in 0..<20 {
                _ = try await client.call(MkdirRequest(parent: root, name: FileName("d\(index)"), mode: 0o755))
            }
            // 400 lookups in flight at once; each reply must carry its own directory's inode.
            try await withThrowingTaskGroup(of: (Int, UInt64).self) { group in
                for index in 0..<400 {
                    group.addTask {
                        let entry = try await client.call(LookupRequest(parent: root, name: FileName("d\(index % 20)")))
                        return (index % 20, entry.attributes.inode)
                    }
                }
                for try await (index, inode) in group {
                    var st = stat()
                    XCTAssertEqual(stat(live.path("d\(index)"), &st), 0)
                    XCTAssertEqual(inode, UInt64(st.st_ino), "reply for d\(index) carries another object")
                }
            }
        }
    }

    func testCallAfterCloseFailsWithConnectionClosed() async throws {
        try await LiveServer.with { live, _ in
            let client = try await live.connect(name: "closing")
            let root = client.hello.root.handle
            await client.close()
            await XCTAssertClientError(
                .connectionClosed,
                try await withDeadline(.seconds(5), "GETATTR after close") {
                    try await client.call(GetattrRequest(handle: root))
                })
        }
    }

    func testServerShutdownFailsLaterCallsWithConnectionClosed() async throws {
        let live = try await LiveServer.start()
        let client = try await live.connect()
        let root = client.hello.root.handle
        _ = try await client.call(GetattrRequest(handle: root))
        await live.stop()
        try await withDeadline(.seconds(5), "close notification") { try await client.channel.closeFuture.get() }
        await XCTAssertClientError(
            .connectionClosed,
            try await withDeadline(.seconds(5), "GETATTR after server shutdown") {
                try await client.call(GetattrRequest(handle: root))
            })
        await client.close()
    }

    func testSubSecondConnectTimeoutStillConnects() async throws {
        try await LiveServer.with { live, _ in
            for _ in 0..<20 {
                let client = try await RPCClient.connect(
                    servers: [ServerAddress(host: "127.0.0.1", port: live.port)], clientName: "quick", group: MultiThreadedEventLoopGroup.singleton,
                    connectTimeout: .milliseconds(800))
                await client.close()
            }
        }
    }

    func testConnectToAClosedPortThrowsUnreachable() async throws {
        // Bind and close a listener to get a port nobody listens on.
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        await XCTAssertClientError(
            .unreachable,
            try await RPCClient.connect(
                servers: [ServerAddress(host: "127.0.0.1", port: port)], clientName: "nobody", group: MultiThreadedEventLoopGroup.singleton))
    }
}

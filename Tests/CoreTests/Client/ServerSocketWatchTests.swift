import NIOCore
import NIOPosix
@testable import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The client finds its connection's socket, which NIO does not hand out, for reply polling
/// (`ServerSocketWatch`), and follows it across a reconnection.
final class ServerSocketWatchTests: XCTestCase {
    func test_theWatchHoldsTheConnectionsSocketAndFollowsAReconnection() async throws {
        let live = try await LiveServer.start()
        let client = try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: live.port)], clientName: "watched",
            group: MultiThreadedEventLoopGroup.singleton, resilience: LiveServer.quietResilience())
        do {
            let first = client.socketWatch.descriptor
            XCTAssertGreaterThanOrEqual(first, 0)
            let firstPorts = Self.ports(of: first)
            XCTAssertEqual(firstPorts?.peer, live.port)
            XCTAssertEqual(firstPorts?.local, client.channel.localAddress?.port)

            // The connection drops: the watch follows the client to its next one (which may get
            // the same descriptor number, never the same local port).
            try await client.channel.close()
            _ = try await withDeadline(.seconds(20), "a request on a new connection") {
                try await client.call(GetattrRequest(handle: client.hello.root.handle))
            }
            try await withDeadline(.seconds(10), "the watch to follow") {
                while true {
                    let now = client.socketWatch.descriptor
                    if now >= 0, let ports = Self.ports(of: now), ports.local != firstPorts?.local { return }
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
            let second = client.socketWatch.descriptor
            XCTAssertGreaterThanOrEqual(second, 0)
            XCTAssertEqual(Self.ports(of: second)?.peer, live.port)
        } catch {
            await client.close()
            await live.stop()
            throw error
        }
        await client.close()
        try await withDeadline(.seconds(10), "the watch to let go after close") {
            while client.socketWatch.descriptor != -1 { try await Task.sleep(for: .milliseconds(5)) }
        }
        await live.stop()
    }

    func test_noSocketIsFoundForAddressesNoConnectionHas() throws {
        let nowhere = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        XCTAssertEqual(ServerSocketLocator.find(local: nowhere, peer: nowhere), -1)
        XCTAssertEqual(ServerSocketLocator.find(local: nil, peer: nowhere), -1)
    }

    /// The local and peer ports of socket `descriptor`.
    private static func ports(of descriptor: Int32) -> (local: Int, peer: Int)? {
        func port(_ fetch: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) -> Int? {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let result = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { fetch(descriptor, $0, &length) }
            }
            return result == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
        }
        guard let local = port(getsockname), let peer = port(getpeername) else { return nil }
        return (local, peer)
    }
}

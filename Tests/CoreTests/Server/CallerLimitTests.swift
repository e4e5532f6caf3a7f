import Foundation
import NIOCore
import XCTest

@testable import PohmelfsCore

/// How the server limits what a connection's requests may claim to be.
final class CallerLimitTests: XCTestCase {
    func testTheOwnerOfALoopbackPeerSocketIsFoundThroughNetlinkAndProcfsAlike() async throws {
        let live = try await LiveServer.start()
        let raw = try await RawConnection.connect(port: live.port)
        defer { Task { await raw.close(); await live.stop() } }
        let client = try XCTUnwrap(raw.channel.localAddress)
        let server = try XCTUnwrap(raw.channel.remoteAddress)
        XCTAssertEqual(CallerLimit.owner(remote: client, local: server), geteuid())
        XCTAssertEqual(
            CallerLimit.ownerFromProcfs(
                remote: try XCTUnwrap(CIDR.addressBytes(of: client)), remotePort: try XCTUnwrap(client.port),
                local: try XCTUnwrap(CIDR.addressBytes(of: server)), localPort: try XCTUnwrap(server.port)),
            geteuid())
        // The server's own end is not a peer socket: no owner is invented for a tuple that
        // does not exist.
        XCTAssertNil(CallerLimit.owner(remote: server, local: server))
    }

    func testAnotherUserActsAsItselfWithOnlyItsOwnGroups() {
        let limit = CallerLimit(scope: .user(uid: 1000, primaryGroup: 100, groups: [100, 27]))
        let claimed = Caller(uid: 0, gid: 0, pid: 7, groups: [0, 27, 6])
        XCTAssertEqual(limit.apply(claimed), Caller(uid: 1000, gid: 100, pid: 7, groups: [27]))
        let honest = Caller(uid: 1000, gid: 27, pid: 7, groups: [100])
        XCTAssertEqual(limit.apply(honest), honest, "a user's own identity passes unchanged")
        XCTAssertEqual(CallerLimit.anyone.apply(claimed), claimed, "root and TLS peers act as they claim")
    }
}

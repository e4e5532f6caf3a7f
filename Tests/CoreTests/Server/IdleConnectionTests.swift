import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Idle connections cannot lock others out: when the server is full, a new client takes the
/// place of the connection that has been silent longest, once it has been silent long enough
/// (a live mount PINGs after 5 s of quiet); connections that are not idle are never closed for it.
final class IdleConnectionTests: XCTestCase {
    func testConnectionsThatSaidHelloThenNothingGiveWayToANewClient() async throws {
        let live = try await LiveServer.start {
            $0.maximumConnections = 4
            $0.idleReclaim = .milliseconds(300)
        }
        var idle: [RawConnection] = []
        do {
            for _ in 0..<4 {
                let raw = try await RawConnection.connect(port: live.port)
                _ = try await raw.hello()
                idle.append(raw)
            }
            try await Task.sleep(for: .milliseconds(400))
            let client = try await live.connect(name: "newcomer")
            let entry = try await client.createFile("made-it")
            XCTAssertTrue(entry.entry.attributes.isRegularFile)
            let waiting = idle
            let closed = try await withDeadline(.seconds(5), "an idle connection closed") {
                while true {
                    let count = waiting.filter { !$0.channel.isActive }.count
                    if count > 0 { return count }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            XCTAssertEqual(closed, 1, "exactly one idle connection makes room")
            await client.close()
        } catch {
            for raw in idle { await raw.close() }
            await live.stop()
            throw error
        }
        for raw in idle { await raw.close() }
        await live.stop()
    }

    func testAFullServerOfLiveConnectionsStillRefusesANewOne() async throws {
        let live = try await LiveServer.start {
            $0.maximumConnections = 2
            $0.idleReclaim = .seconds(60)
        }
        let first = try await live.connect(name: "first")
        let second = try await live.connect(name: "second")
        do {
            _ = try await live.connect(name: "third")
            XCTFail("a third connection should be refused while the others are live")
        } catch {}
        _ = try await first.call(GetattrRequest(handle: first.root))
        await first.close()
        await second.close()
        await live.stop()
    }
}

import PohmelfsCore
import XCTest

/// When the client waits for a reply by polling the server's socket (`ReplyPolling`).
final class ReplyPollingTests: XCTestCase {
    let microsecond: UInt64 = 1_000

    func test_waitsInABurstOnly() {
        var polling = ReplyPolling(windowMicroseconds: 100)
        XCTAssertEqual(polling.deadline(at: 10 * self.microsecond, inBurst: true), 110 * self.microsecond)
        polling.waitEnded(foundSomething: true)
        XCTAssertNil(polling.deadline(at: 200 * self.microsecond, inBurst: false))
        XCTAssertEqual(polling.deadline(at: 300 * self.microsecond, inBurst: true), 400 * self.microsecond)
    }

    func test_waitsThatFindNothingBackOff() {
        var polling = ReplyPolling(windowMicroseconds: 100)
        var waits = 0
        // A server that never answers within the window (1 MiB writes): waits at chances 0, 2,
        // 6 and 14, then at every sixteenth.
        for chance in 0..<64 {
            if polling.deadline(at: UInt64(chance) * 1_000 * self.microsecond, inBurst: true) != nil {
                waits += 1
                polling.waitEnded(foundSomething: false)
            }
        }
        XCTAssertEqual(waits, 7)
        // One that is answered in time ends the back-off once its next chance comes.
        var recovering = ReplyPolling(windowMicroseconds: 100)
        _ = recovering.deadline(at: 0, inBurst: true)
        recovering.waitEnded(foundSomething: false)
        XCTAssertNil(recovering.deadline(at: 1, inBurst: true))
        XCTAssertNotNil(recovering.deadline(at: 2, inBurst: true))
        recovering.waitEnded(foundSomething: true)
        XCTAssertNotNil(recovering.deadline(at: 3, inBurst: true))
    }

    func test_offNeverWaits() {
        var off = ReplyPolling(windowMicroseconds: 0)
        XCTAssertNil(off.deadline(at: 0, inBurst: true))
    }

    func test_theWindowComesFromTheEnvironment() {
        XCTAssertEqual(ReplyPolling.windowMicroseconds(from: [:]), ReplyPolling.defaultWindowMicroseconds)
        XCTAssertEqual(ReplyPolling.windowMicroseconds(from: ["POHMELFS_REPLY_POLL_US": "0"]), 0)
        XCTAssertEqual(ReplyPolling.windowMicroseconds(from: ["POHMELFS_REPLY_POLL_US": "250"]), 250)
        XCTAssertNil(ReplyPolling.windowMicroseconds(from: ["POHMELFS_REPLY_POLL_US": "soon"]))
        XCTAssertNil(ReplyPolling.windowMicroseconds(from: ["POHMELFS_REPLY_POLL_US": "5000"]))
    }
}

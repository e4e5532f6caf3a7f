import NIOCore
import NIOEmbedded
import Synchronization
import XCTest

@testable import PohmelfsCore

/// Detached sessions wait for their client for the lease, but never more than the table's bound:
/// past it the one detached longest ago expires at once.
final class SessionTableTests: XCTestCase {
    private func session(_ id: UInt64) -> ClientSession<LocalDirectoryStore> {
        ClientSession(id: SessionID(id), peer: "test", clientName: "client-\(id)")
    }

    func testPastTheBoundTheOldestDetachedSessionExpiresAtOnce() {
        let loop = EmbeddedEventLoop()
        let table = SessionTable<LocalDirectoryStore>(maximumDetached: 2)
        let expired = Mutex<[UInt64]>([])
        let sessions = (1...3).map(self.session)
        for session in sessions { table.insert(session) }
        for session in sessions {
            table.detach(session, lease: .seconds(10), on: loop) { expired.withLock { $0.append(session.id.rawValue) } }
        }
        XCTAssertEqual(expired.withLock { $0 }, [1], "the first detached is evicted when the third detaches")
        XCTAssertEqual(table.detachedCount, 2)
        XCTAssertNil(table.resume(SessionID(1), clientName: "client-1", secret: sessions[0].secret))
        XCTAssertNil(
            table.resume(SessionID(2), clientName: "client-2", secret: sessions[0].secret),
            "another session's secret resumes nothing")
        XCTAssertNotNil(table.resume(SessionID(2), clientName: "client-2", secret: sessions[1].secret))
        XCTAssertEqual(table.detachedCount, 1)
        loop.advanceTime(by: .seconds(11))
        XCTAssertEqual(expired.withLock { $0 }, [1, 3], "the resumed session does not expire; the other does")
        XCTAssertEqual(table.count, 1)
    }
}

import Dispatch
import Synchronization
@testable import PohmelfsCore
import XCTest

/// One timer for many graces: every item expires, none before its grace, in the order added,
/// also when items keep coming after the timer fired.
final class GraceTimerTests: XCTestCase {
    func testEveryItemExpiresAfterItsGraceInOrder() async throws {
        let grace = 100_000_000  // ns
        let timer = GraceTimer<Int>(grace: .nanoseconds(grace), coalescing: .milliseconds(20))
        let added = Mutex<[Int: UInt64]>([:])
        let expired = Mutex<[(item: Int, at: UInt64)]>([])
        timer.onExpiry { item in
            expired.withLock { $0.append((item, DispatchTime.now().uptimeNanoseconds)) }
        }
        // Two bursts, the second after the first has expired (the timer must be armed again).
        for burst in 0..<2 {
            for item in (burst * 50)..<(burst * 50 + 50) {
                added.withLock { $0[item] = DispatchTime.now().uptimeNanoseconds }
                timer.add(item)
                if item % 10 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            XCTAssertGreaterThan(timer.count, 0, "items expired before their grace")
            for _ in 0..<300 where expired.withLock({ $0.count }) < burst * 50 + 50 {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        let result = expired.withLock { $0 }
        XCTAssertEqual(result.map(\.item), Array(0..<100), "not every item expired once, in order")
        XCTAssertEqual(timer.count, 0)
        let addedAt = added.withLock { $0 }
        for (item, at) in result {
            XCTAssertGreaterThanOrEqual(at - addedAt[item]!, UInt64(grace), "item \(item) expired before its grace")
        }
    }
}

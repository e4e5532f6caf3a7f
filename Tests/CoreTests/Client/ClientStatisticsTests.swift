@testable import PohmelfsCore
import Synchronization
import XCTest

/// `ClientStatistics.whenIdle`: told each time the last request in flight is answered.
final class ClientStatisticsTests: XCTestCase {
    func test_theIdleActionRunsWhenTheLastRequestIsAnsweredAndCanBeReplacedOrRemoved() {
        let statistics = ClientStatistics()
        let first = Atomic<Int>(0)
        let second = Atomic<Int>(0)
        statistics.whenIdle { first.add(1, ordering: .relaxed) }
        statistics.started()
        statistics.started()
        statistics.finished()
        XCTAssertEqual(first.load(ordering: .relaxed), 0)  // one still in flight
        statistics.finished()
        XCTAssertEqual(first.load(ordering: .relaxed), 1)
        // Called many times, the action costs the same each time (a closure kept directly in the
        // Mutex grew a chain of thunks with every call).
        for _ in 0..<10_000 {
            statistics.started()
            statistics.finished()
        }
        XCTAssertEqual(first.load(ordering: .relaxed), 10_001)
        statistics.whenIdle { second.add(1, ordering: .relaxed) }
        statistics.started()
        statistics.finished()
        XCTAssertEqual(first.load(ordering: .relaxed), 10_001)
        XCTAssertEqual(second.load(ordering: .relaxed), 1)
        statistics.whenIdle(nil)
        statistics.started()
        statistics.finished()
        XCTAssertEqual(second.load(ordering: .relaxed), 1)
        XCTAssertEqual(statistics.completed.load(ordering: .relaxed), 10_004)
    }
}

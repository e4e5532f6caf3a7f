import PohmelfsCore
import XCTest

/// The OPEN that follows a thread's own LOOKUP of the node, within the window, is vouched for
/// once; anything else is not.
final class RecentLookupsTests: XCTestCase {
    func testAnOpenRightAfterTheSameThreadsLookupOfTheNodeIsVouchedForOnce() {
        let lookups = RecentLookups()
        let now = ContinuousClock.now
        lookups.looked(up: NodeID(5), by: 100, at: now)
        XCTAssertTrue(lookups.opening(NodeID(5), by: 100, at: now + .milliseconds(10)))
        XCTAssertFalse(lookups.opening(NodeID(5), by: 100, at: now + .milliseconds(20)), "used up")
    }

    func testAnotherThreadAnotherNodeOrALateOpenIsNotVouchedFor() {
        let lookups = RecentLookups()
        let now = ContinuousClock.now
        lookups.looked(up: NodeID(5), by: 100, at: now)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 101, at: now))
        XCTAssertFalse(lookups.opening(NodeID(6), by: 100, at: now))
        lookups.looked(up: NodeID(5), by: 100, at: now)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 100, at: now + RecentLookups.window + .milliseconds(1)))
        lookups.looked(up: NodeID(7), by: 0, at: now)
        XCTAssertFalse(lookups.opening(NodeID(7), by: 0, at: now), "no pid, no vouching")
    }

    func testALaterLookupByTheThreadReplacesTheEarlierOne() {
        let lookups = RecentLookups()
        let now = ContinuousClock.now
        lookups.looked(up: NodeID(5), by: 100, at: now)
        lookups.looked(up: NodeID(9), by: 100, at: now)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 100, at: now))
    }

    func testTheTableStaysBounded() {
        let lookups = RecentLookups(capacity: 4)
        let now = ContinuousClock.now
        for pid in 1...10 as ClosedRange<UInt32> { lookups.looked(up: NodeID(UInt64(pid)), by: pid, at: now) }
        XCTAssertTrue(lookups.opening(NodeID(10), by: 10, at: now))
        XCTAssertFalse(lookups.opening(NodeID(1), by: 1, at: now), "forgotten when the table started over")
    }
}

import PohmelfsCore
import XCTest

/// Only the kernel's ESTALE retry is vouched for: an OPEN answered ESTALE, then the same
/// thread's LOOKUPs, then its OPEN of the node the last LOOKUP returned, within the window.
final class RecentLookupsTests: XCTestCase {
    func testTheOpenOfTheRetryAfterAnESTALEIsVouchedForOnce() {
        let lookups = RecentLookups()
        let now = ContinuousClock.now
        lookups.openWasStale(by: 100, at: now)
        lookups.looked(up: NodeID(2), by: 100)  // the directory, looked up again
        lookups.looked(up: NodeID(5), by: 100)  // the name
        XCTAssertTrue(lookups.opening(NodeID(5), by: 100, at: now + .milliseconds(10)))
        lookups.looked(up: NodeID(5), by: 100)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 100, at: now + .milliseconds(20)), "the retry is over")
    }

    func testALookupOfAnEarlierSystemCallVouchesForNothing() {
        // access() then open() through the cached entry: no ESTALE came between.
        let lookups = RecentLookups()
        lookups.looked(up: NodeID(5), by: 100)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 100))
    }

    func testAnotherThreadAnotherNodeOrALateOpenIsNotVouchedFor() {
        let lookups = RecentLookups()
        let now = ContinuousClock.now
        lookups.openWasStale(by: 100, at: now)
        lookups.looked(up: NodeID(5), by: 100)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 101, at: now))
        XCTAssertFalse(lookups.opening(NodeID(6), by: 100, at: now))
        lookups.openWasStale(by: 100, at: now)
        lookups.looked(up: NodeID(5), by: 100)
        XCTAssertFalse(lookups.opening(NodeID(5), by: 100, at: now + RecentLookups.window + .milliseconds(1)))
        lookups.openWasStale(by: 0, at: now)
        lookups.looked(up: NodeID(7), by: 0)
        XCTAssertFalse(lookups.opening(NodeID(7), by: 0, at: now), "no pid, no vouching")
    }

    func testTheTableStaysBounded() {
        let lookups = RecentLookups(capacity: 4)
        let now = ContinuousClock.now
        for pid in 1...10 as ClosedRange<UInt32> {
            lookups.openWasStale(by: pid, at: now)
            lookups.looked(up: NodeID(UInt64(pid)), by: pid)
        }
        XCTAssertTrue(lookups.opening(NodeID(10), by: 10, at: now))
        XCTAssertFalse(lookups.opening(NodeID(1), by: 1, at: now), "forgotten when the table started over")
    }
}

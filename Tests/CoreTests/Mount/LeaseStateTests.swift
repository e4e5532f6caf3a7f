import XCTest

@testable import PohmelfsCore

final class LeaseStateTests: XCTestCase {
    func testABreakBetweenRequestAndReplyVoidsTheLease() {
        let leases = LeaseState(duration: 3600)
        let ticket = leases.ticket()
        XCTAssertTrue(leases.holds(ticket))
        leases.broke()
        XCTAssertFalse(leases.holds(ticket))
        XCTAssertTrue(leases.holds(leases.ticket()))
    }

    func testAnAbsentCapabilityIsRememberedUntilTheObjectBreaks() {
        let leases = LeaseState(duration: 3600)
        let node = NodeID(7)
        let stale = leases.ticket()
        leases.broke()
        leases.noteNoCapability(node, ticket: stale)
        XCTAssertFalse(leases.hasNoCapability(node), "learned under a lease a break voided")
        leases.noteNoCapability(node, ticket: leases.ticket())
        XCTAssertTrue(leases.hasNoCapability(node))
        leases.broke([NodeID(8)])
        XCTAssertTrue(leases.hasNoCapability(node))
        leases.broke([node])
        XCTAssertFalse(leases.hasNoCapability(node))
    }

    func testRenewalReturnsEveryLeasedNameAndForgetsThem() {
        let leases = LeaseState(duration: 3600)
        XCTAssertTrue(leases.remember("a", in: NodeID(1)))
        XCTAssertTrue(leases.remember("b", in: NodeID(1)))
        XCTAssertTrue(leases.remember("c", in: NodeID(2)))
        leases.forget("b", in: NodeID(1))
        leases.forgetDirectory(NodeID(2))
        let ticket = leases.ticket()
        XCTAssertEqual(leases.renew(), [NodeID(1): ["a"]])
        XCTAssertFalse(leases.holds(ticket))
        XCTAssertEqual(leases.renew(), [:])
    }

    func testLeaseOptionsParse() throws {
        XCTAssertTrue(try MountOptions(parsing: "").leases)
        XCTAssertFalse(try MountOptions(parsing: "leases=off").leases)
        XCTAssertEqual(try MountOptions(parsing: "lease_timeout=60").leaseTimeout, 60)
        XCTAssertThrowsError(try MountOptions(parsing: "leases=maybe"))
        XCTAssertThrowsError(try MountOptions(parsing: "lease_timeout=-1"))
    }
}

import XCTest

@testable import PohmelfsCore

final class ListingLeasesTests: XCTestCase {
    func testAWholeListingMakesOtherNamesAbsentUntilABreakNamesOne() {
        let leases = LeaseState(duration: 3600, listings: true)
        let directory = NodeID(5)
        leases.listedWhole(directory, names: ["a", "b"], ticket: leases.listingTicket())
        XCTAssertTrue(leases.isKnownAbsent("c", in: directory))
        XCTAssertFalse(leases.isKnownAbsent("a", in: directory))
        XCTAssertFalse(leases.isKnownAbsent(FileName(bytes: Array(repeating: 0x78, count: 256)), in: directory))
        leases.forget("z", in: directory)
        XCTAssertFalse(leases.isKnownAbsent("c", in: directory))
    }

    func testAListingCrossedByABreakOrAnOwnCreateTeachesNothing() {
        let leases = LeaseState(duration: 3600, listings: true)
        let directory = NodeID(5)
        var ticket = leases.listingTicket()
        leases.broke()
        leases.listedWhole(directory, names: ["a"], ticket: ticket)
        XCTAssertFalse(leases.isKnownAbsent("c", in: directory))
        ticket = leases.listingTicket()
        leases.adding("c", in: directory)  // this client's create, maybe not in the listing
        leases.listedWhole(directory, names: ["a"], ticket: ticket)
        XCTAssertFalse(leases.isKnownAbsent("c", in: directory))
    }

    func testALocalOpenIsForTheCredentialsTheServerCheckedUntilTheDirectoryChanges() throws {
        let leases = LeaseState(duration: 3600, listings: true)
        let listings = try XCTUnwrap(leases.listings)
        let directory = NodeID(9)
        let root = Caller(uid: 0, gid: 0, pid: 1)
        let user = Caller(uid: 1000, gid: 1000, pid: 2)
        listings.leased(directory, for: root) { true }
        XCTAssertTrue(listings.holds(directory, for: Caller(uid: 0, gid: 0, pid: 3)))
        XCTAssertFalse(listings.holds(directory, for: user))
        listings.leased(directory, for: user) { false }  // a break crossed the reply
        XCTAssertFalse(listings.holds(directory, for: user))
        leases.broke([directory])  // chmod elsewhere
        XCTAssertFalse(listings.holds(directory, for: root))
        listings.leased(directory, for: root) { true }
        leases.forget("x", in: directory)
        XCTAssertFalse(listings.holds(directory, for: root))
        listings.leased(directory, for: root) { true }
        _ = leases.renew()
        XCTAssertFalse(listings.holds(directory, for: root))
    }
}

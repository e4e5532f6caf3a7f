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
        XCTAssertFalse(leases.isAbsent(.capability, of: node, for: .root), "learned under a lease a break voided")
        leases.noteNoCapability(node, ticket: leases.ticket())
        XCTAssertTrue(leases.isAbsent(.capability, of: node, for: .root))
        XCTAssertTrue(leases.isAbsent(.capability, of: node, for: Caller(uid: 1000, gid: 1000)))
        leases.broke([NodeID(8)])
        XCTAssertTrue(leases.isAbsent(.capability, of: node, for: .root))
        leases.broke([node])
        XCTAssertFalse(leases.isAbsent(.capability, of: node, for: .root))
    }

    func testAnAbsenceLearnedByAUserIsNotRootsAndEachNameIsItsOwn() {
        let leases = LeaseState(duration: 3600, xattrs: true)
        let node = NodeID(7)
        let user = Caller(uid: 1000, gid: 1000)
        // The server answers ENODATA for security.* to anyone but root (ExportPolicy).
        leases.noteAbsent(.selinux, of: node, for: user, ticket: leases.ticket())
        XCTAssertTrue(leases.isAbsent(.selinux, of: node, for: Caller(uid: 1001, gid: 1001)))
        XCTAssertFalse(leases.isAbsent(.selinux, of: node, for: .root))
        XCTAssertFalse(leases.isAbsent(.aclAccess, of: node, for: user))
        XCTAssertFalse(leases.isAbsent(.capability, of: node, for: user))
        leases.noteAbsent(.aclAccess, of: node, for: .root, ticket: leases.ticket())
        XCTAssertTrue(leases.isAbsent(.aclAccess, of: node, for: .root))
        XCTAssertTrue(leases.isAbsent(.selinux, of: node, for: user))
        // The kernel forgot the node: nothing is kept for it.
        leases.forgetDirectory(node)
        XCTAssertFalse(leases.isAbsent(.aclAccess, of: node, for: .root))
        XCTAssertNil(ProbedXattr(name: Array("user.comment".utf8)))
        XCTAssertEqual(ProbedXattr(name: Array("system.posix_acl_default".utf8)), .aclDefault)
    }

    func testWithoutTheServersLeaseOnGetxattrOnlyACreatesAbsenceIsKept() {
        let leases = LeaseState(duration: 3600, xattrs: false)
        leases.noteAbsent(.selinux, of: NodeID(7), for: .root, ticket: leases.ticket())
        XCTAssertFalse(leases.isAbsent(.selinux, of: NodeID(7), for: .root))
        leases.noteNoCapability(NodeID(7), ticket: leases.ticket())
        XCTAssertTrue(leases.isAbsent(.capability, of: NodeID(7), for: .root))
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

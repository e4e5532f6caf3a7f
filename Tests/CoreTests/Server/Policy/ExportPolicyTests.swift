import NIOCore
import PohmelfsCore
import XCTest

/// `CIDR` and `ExportPolicy` as pure values: parsing, matching, squashing, the read-only
/// table and the xattr namespaces.
final class ExportPolicyTests: XCTestCase {
    func testCIDRParsesIPv4AndIPv6RangesAndSingleAddresses() {
        XCTAssertEqual(CIDR("10.0.0.0/8")?.description, "10.0.0.0/8")
        XCTAssertEqual(CIDR("10.1.2.3/8")?.description, "10.0.0.0/8", "host bits are cleared")
        XCTAssertEqual(CIDR("192.0.2.7")?.prefixLength, 32)
        XCTAssertEqual(CIDR("::1")?.prefixLength, 128)
        XCTAssertEqual(CIDR("fd00::/8")?.network.count, 16)
        XCTAssertEqual(CIDR("0.0.0.0/0")?.prefixLength, 0)
    }

    func testCIDRRejectsMalformedRanges() {
        for text in [
            "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/8/8", "localhost",
            "10.0.0.0/+8", "10.0.0/8", "fe80::1%eth0", "10.0.0.0/0008", "1.2.3.4 /8",
        ] {
            XCTAssertNil(CIDR(text), text)
        }
    }

    func testCIDRMatchesByPrefix() throws {
        let ten = try XCTUnwrap(CIDR("10.0.0.0/8"))
        XCTAssertTrue(ten.contains(try SocketAddress(ipAddress: "10.255.0.1", port: 1)))
        XCTAssertFalse(ten.contains(try SocketAddress(ipAddress: "11.0.0.1", port: 1)))
        XCTAssertFalse(ten.contains(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        let odd = try XCTUnwrap(CIDR("192.168.4.0/22"))
        XCTAssertTrue(odd.contains(try SocketAddress(ipAddress: "192.168.7.255", port: 1)))
        XCTAssertFalse(odd.contains(try SocketAddress(ipAddress: "192.168.8.0", port: 1)))
        let v6 = try XCTUnwrap(CIDR("2001:db8::/32"))
        XCTAssertTrue(v6.contains(try SocketAddress(ipAddress: "2001:db8:ffff::1", port: 1)))
        XCTAssertFalse(v6.contains(try SocketAddress(ipAddress: "2001:db9::1", port: 1)))
        XCTAssertFalse(v6.contains(try SocketAddress(ipAddress: "10.0.0.1", port: 1)), "families never mix")
        XCTAssertTrue(try XCTUnwrap(CIDR("0.0.0.0/0")).contains(try SocketAddress(ipAddress: "8.8.8.8", port: 1)))
    }

    func testIPv4MappedPeersMatchIPv4Ranges() throws {
        let ten = try XCTUnwrap(CIDR("10.0.0.0/8"))
        XCTAssertTrue(ten.contains(try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 1)))
        XCTAssertFalse(ten.contains(try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 1)))
        XCTAssertTrue(CIDR.isLoopback(try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 1)))
    }

    func testLoopbackIsOnly127And1() throws {
        for address in ["127.0.0.1", "127.1.2.3", "::1"] {
            XCTAssertTrue(CIDR.isLoopback(try SocketAddress(ipAddress: address, port: 1)), address)
        }
        for address in ["0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "::2", "fe80::1"] {
            XCTAssertFalse(CIDR.isLoopback(try SocketAddress(ipAddress: address, port: 1)), address)
        }
    }

    func testAnEmptyAllowListAdmitsEveryone() throws {
        let open = ExportPolicy()
        XCTAssertTrue(open.admits(addressBytes: [127, 0, 0, 1]))
        let narrow = ExportPolicy(allow: [CIDR("10.0.0.0/8")!, CIDR("fd00::/8")!])
        XCTAssertTrue(narrow.admits(addressBytes: [10, 9, 8, 7]))
        XCTAssertFalse(narrow.admits(addressBytes: [127, 0, 0, 1]))
        XCTAssertTrue(narrow.admits(addressBytes: [0xFD] + [UInt8](repeating: 1, count: 15)))
    }

    func testSquashingIsOffByDefault() {
        let caller = Caller(uid: 0, gid: 0, pid: 9, groups: [0, 4])
        XCTAssertEqual(ExportPolicy().squashed(caller), caller)
    }

    func testRootSquashMapsOnlyIdZero() {
        let policy = ExportPolicy(squash: .root)
        XCTAssertEqual(
            policy.squashed(Caller(uid: 0, gid: 0, pid: 9, groups: [0, 4])),
            Caller(uid: 65534, gid: 65534, pid: 9, groups: [65534, 4]))
        let user = Caller(uid: 1000, gid: 100, pid: 3, groups: [27])
        XCTAssertEqual(policy.squashed(user), user)
        XCTAssertEqual(policy.squashed(Caller(uid: 1000, gid: 0)), Caller(uid: 1000, gid: 65534))
        let custom = ExportPolicy(squash: .root, anonymousUID: 7, anonymousGID: 8)
        XCTAssertEqual(custom.squashed(.root), Caller(uid: 7, gid: 8))
    }

    func testAllSquashMapsEveryoneAndDropsGroups() {
        let policy = ExportPolicy(squash: .all, anonymousUID: 500, anonymousGID: 600)
        for caller in [Caller.root, Caller(uid: 1000, gid: 100, pid: 1, groups: [1, 2, 3])] {
            let mapped = policy.squashed(caller)
            XCTAssertEqual([mapped.uid, mapped.gid], [500, 600])
            XCTAssertEqual(mapped.groups, [])
            XCTAssertEqual(mapped.pid, caller.pid)
        }
    }

    func testReadOnlyRefusesEveryChangingOpcodeAndNothingElse() {
        let policy = ExportPolicy(readOnly: true)
        for opcode in Opcode.allCases where opcode.descriptor.direction == .request {
            let changes = ExportPolicy.changingOpcodes.contains(opcode)
            if changes {
                XCTAssertThrowsError(try policy.checkChange(opcode), "\(opcode)") { XCTAssertEqual($0 as? Errno, .readOnly) }
            } else if opcode != .open {
                XCTAssertNoThrow(try policy.checkChange(opcode), "\(opcode)")
            }
        }
        XCTAssertEqual(
            ExportPolicy.changingOpcodes,
            [.setattr, .symlink, .mknod, .mkdir, .unlink, .rmdir, .rename, .link, .create, .write, .fallocate,
             .copyFileRange, .setxattr, .removexattr, .append, .prealloc, .delegatedCreate, .delegatedUnlink])
        for opcode in ExportPolicy.changingOpcodes {
            XCTAssertNoThrow(try ExportPolicy().checkChange(opcode), "a writable export refuses nothing")
        }
    }

    func testReadOnlyRefusesOpensForWritingOrTruncation() {
        let policy = ExportPolicy(readOnly: true)
        for flags in [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND, O_RDWR | O_CREAT] {
            XCTAssertThrowsError(try policy.checkChange(.open, openFlags: UInt32(flags)), "\(flags)")
        }
        for flags in [O_RDONLY, O_RDONLY | O_NONBLOCK, O_RDONLY | O_DIRECTORY, O_RDONLY | O_NOFOLLOW] {
            XCTAssertNoThrow(try policy.checkChange(.open, openFlags: UInt32(flags)), "\(flags)")
        }
    }

    func testPrivilegedXattrNamespacesAreForUnsquashedRootOnly() {
        let trusted = Array("trusted.x".utf8)
        let security = Array("security.capability".utf8)
        let user = Array("user.x".utf8)
        let open = ExportPolicy()
        XCTAssertTrue(open.mayUseXattr(trusted, caller: .root))
        XCTAssertTrue(open.mayUseXattr(security, caller: .root))
        XCTAssertFalse(open.mayUseXattr(trusted, caller: Caller(uid: 1000, gid: 0)))
        XCTAssertFalse(open.mayUseXattr(security, caller: Caller(uid: 1000, gid: 0)))
        XCTAssertTrue(open.mayUseXattr(user, caller: Caller(uid: 1000, gid: 0)))
        XCTAssertFalse(open.mayUseXattr(Array("trusted.".utf8), caller: Caller(uid: 1, gid: 1)))
        XCTAssertTrue(open.mayUseXattr(Array("trustedx".utf8), caller: Caller(uid: 1, gid: 1)), "a prefix, not a substring")
        for squashing in [ExportPolicy(squash: .root, anonymousUID: 0), ExportPolicy(squash: .all, anonymousUID: 0)] {
            let caller = squashing.squashed(.root)
            XCTAssertFalse(squashing.mayUseXattr(trusted, caller: caller), "squashed root is not root")
            XCTAssertThrowsError(try squashing.checkXattrName(security, caller: caller)) {
                XCTAssertEqual($0 as? Errno, .permission)
            }
            XCTAssertNoThrow(try squashing.checkXattrName(user, caller: caller))
        }
    }

    func testXattrListsAreFilteredNameByName() {
        let list = Array("user.a\0trusted.b\0security.selinux\0user.c\0".utf8)
        let open = ExportPolicy()
        let filtered = ExportPolicy.filterXattrList(list) { open.mayUseXattr($0, caller: Caller(uid: 5, gid: 5)) }
        XCTAssertEqual(filtered, Array("user.a\0user.c\0".utf8))
        XCTAssertEqual(ExportPolicy.filterXattrList([]) { _ in true }, [])
    }
}

import PohmelfsCore
import XCTest

/// The FUSE_INIT reply gets the flags libfuse 3.14 cannot ask for, only those the kernel
/// offered, and no other reply is touched.
final class InitReplyAmendmentTests: XCTestCase {
    private typealias Amendment = InitReplyAmendment

    /// A request as read from /dev/fuse: fuse_in_header (40 bytes) then fuse_init_in.
    private func initRequest(unique: UInt64, minor: UInt32 = 38, flags: UInt64, opcode: UInt32 = 26) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(UInt32(104)); put(opcode); put(unique); put(UInt64(1)); put(UInt32(0)); put(UInt32(0)); put(UInt32(0))
        put(UInt16(0)); put(UInt16(0))
        put(UInt32(7)); put(minor); put(UInt32(131072)); put(UInt32(truncatingIfNeeded: flags))
        put(UInt32(truncatingIfNeeded: flags >> 32))
        bytes += [UInt8](repeating: 0, count: 44)
        return bytes
    }

    private func outHeader(unique: UInt64, error: Int32 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(UInt32(16 + 64)); put(error); put(unique)
        return bytes
    }

    /// fuse_init_out (64 bytes) with `flags` and `flags2`.
    private func initReply(flags: UInt32, flags2: UInt32 = 0, size: Int = 64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(7).littleEndian, toByteOffset: 0, as: UInt32.self)
            $0.storeBytes(of: flags.littleEndian, toByteOffset: 12, as: UInt32.self)
            if size >= 36 { $0.storeBytes(of: flags2.littleEndian, toByteOffset: 32, as: UInt32.self) }
        }
        return bytes
    }

    private func flags(of reply: [UInt8]) -> (UInt32, UInt32) {
        reply.withUnsafeBytes {
            (UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 12, as: UInt32.self)),
             reply.count >= 36 ? UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 32, as: UInt32.self)) : 0)
        }
    }

    private func amend(_ amendment: Amendment, header: [UInt8], body: [UInt8]) -> [UInt8]? {
        header.withUnsafeBytes { h in body.withUnsafeBytes { b in amendment.amendedReply(header: h, body: b) } }
    }

    private func observe(_ amendment: Amendment, _ request: [UInt8]) {
        request.withUnsafeBytes { amendment.observeRequest($0) }
    }

    func testTheInitReplyGetsEveryOfferedFlagWithInitExtForTheHighOnes() throws {
        let amendment = Amendment()
        let offered = Amendment.handleKillpriv | Amendment.handleKillprivV2 | Amendment.initExtended
            | Amendment.directIOAllowMmap | 1
        self.observe(amendment, self.initRequest(unique: 2, flags: offered))
        let libfuseFlags: UInt32 = 1 | (1 << 12)
        let amended = try XCTUnwrap(self.amend(amendment, header: self.outHeader(unique: 2), body: self.initReply(flags: libfuseFlags)))
        let (low, high) = self.flags(of: amended)
        XCTAssertEqual(low, libfuseFlags | (1 << 19) | (1 << 28) | (1 << 30))
        XCTAssertEqual(high, 1 << 4, "DIRECT_IO_ALLOW_MMAP is bit 36")
        XCTAssertEqual(amended.count, 64)
        XCTAssertEqual(amendment.negotiated, UInt64(low) | UInt64(high) << 32)
    }

    func testFlagsTheKernelDidNotOfferAreNotAdded() throws {
        let amendment = Amendment()
        self.observe(amendment, self.initRequest(unique: 2, flags: Amendment.handleKillpriv))
        let amended = try XCTUnwrap(self.amend(amendment, header: self.outHeader(unique: 2), body: self.initReply(flags: 1)))
        XCTAssertEqual(self.flags(of: amended).0, 1 | (1 << 19))
        XCTAssertEqual(self.flags(of: amended).1, 0)
    }

    func testHighFlagsNeedTheKernelsInitExtAndAProtocolThatHasFlags2() throws {
        // Offered in flags2, but without FUSE_INIT_EXT the kernel's flags2 means nothing.
        let amendment = Amendment()
        self.observe(amendment, self.initRequest(unique: 2, flags: Amendment.directIOAllowMmap))
        let amended = try XCTUnwrap(self.amend(amendment, header: self.outHeader(unique: 2), body: self.initReply(flags: 0)))
        XCTAssertEqual(self.flags(of: amended).0, 0)
        XCTAssertEqual(self.flags(of: amended).1, 0)
        // An older protocol (minor 35) has no flags2 in its request.
        let old = Amendment()
        self.observe(old, self.initRequest(unique: 3, minor: 35, flags: Amendment.initExtended | Amendment.directIOAllowMmap))
        let reply = try XCTUnwrap(self.amend(old, header: self.outHeader(unique: 3), body: self.initReply(flags: 0)))
        XCTAssertEqual(self.flags(of: reply).1, 0)
    }

    func testAShortInitReplyOnlyGetsLowFlags() throws {
        let amendment = Amendment()
        self.observe(amendment, self.initRequest(unique: 2, flags: Amendment.handleKillprivV2 | Amendment.initExtended | Amendment.directIOAllowMmap))
        let short = self.initReply(flags: 0, size: 24)
        let amended = try XCTUnwrap(self.amend(amendment, header: self.outHeader(unique: 2), body: short))
        XCTAssertEqual(amended.count, 24)
        XCTAssertEqual(self.flags(of: amended).0, 1 << 28)
    }

    func testOtherRepliesErrorsAndOtherRequestsAreLeftAlone() {
        let amendment = Amendment()
        XCTAssertNil(self.amend(amendment, header: self.outHeader(unique: 2), body: self.initReply(flags: 0)), "no INIT seen")
        self.observe(amendment, self.initRequest(unique: 2, flags: Amendment.handleKillpriv, opcode: 1))
        XCTAssertNil(self.amend(amendment, header: self.outHeader(unique: 2), body: self.initReply(flags: 0)), "LOOKUP")
        self.observe(amendment, self.initRequest(unique: 5, flags: Amendment.handleKillpriv))
        XCTAssertNil(self.amend(amendment, header: self.outHeader(unique: 4), body: self.initReply(flags: 0)), "another reply")
        XCTAssertNil(self.amend(amendment, header: self.outHeader(unique: 5, error: -22), body: self.initReply(flags: 0)))
        XCTAssertNil(self.amend(amendment, header: self.outHeader(unique: 5), body: self.initReply(flags: 0)), "only once")
        XCTAssertNil(amendment.negotiated)
        [UInt8](repeating: 0, count: 10).withUnsafeBytes { amendment.observeRequest($0) }  // too short: ignored
    }
}

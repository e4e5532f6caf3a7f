import XCTest

@testable import PohmelfsCore

/// Which ops take a boundary lock, and where in the shared lock file (`CephBoundaryLocks`).
/// The lock itself is proven across gateways by test_cephfs_gateways_atomicity.py.
final class CephBoundaryLocksTests: XCTestCase {
    let object: UInt64 = 4 << 20

    func testOpsInsideOneObjectCrossNothing() {
        XCTAssertNil(CephBoundaryLocks.crossed(offset: 0, length: object, unit: object))
        XCTAssertNil(CephBoundaryLocks.crossed(offset: object, length: 1 << 20, unit: object))
        XCTAssertNil(CephBoundaryLocks.crossed(offset: object - 1, length: 1, unit: object))
        XCTAssertNil(CephBoundaryLocks.crossed(offset: 12, length: 0, unit: object))
        XCTAssertNil(CephBoundaryLocks.crossed(offset: UInt64.max - 4, length: 100, unit: object))
    }

    func testOpsOverABoundaryNameIt() {
        XCTAssertEqual(CephBoundaryLocks.crossed(offset: object - 1, length: 2, unit: object)?.first, 1)
        XCTAssertEqual(CephBoundaryLocks.crossed(offset: object - (512 << 10), length: 1 << 20, unit: object)?.last, 1)
        let many = CephBoundaryLocks.crossed(offset: 3 * object - 1, length: 2 * object + 2, unit: object)
        XCTAssertEqual(many?.first, 3)
        XCTAssertEqual(many?.last, 5)
    }

    func testOneFilesBoundariesAreOneWindowAndOverlapOnlyWhenShared() {
        let a = CephBoundaryLocks.lockRange(ino: 0x1000_0000_001, first: 1, last: 1)
        let b = CephBoundaryLocks.lockRange(ino: 0x1000_0000_001, first: 1, last: 2)
        let c = CephBoundaryLocks.lockRange(ino: 0x1000_0000_001, first: 2, last: 2)
        XCTAssertEqual(a.length, 1)
        XCTAssertEqual(b.start, a.start)
        XCTAssertEqual(b.length, 2)
        XCTAssertEqual(c.start, a.start + 1)
        XCTAssertEqual(a.start % CephBoundaryLocks.window, 1)
        XCTAssertLessThan(a.start + CephBoundaryLocks.window, UInt64(1) << 62)
        XCTAssertNotEqual(
            CephBoundaryLocks.lockRange(ino: 0x1000_0000_002, first: 1, last: 1).start, a.start)
    }

    func testARangeWrappingTheWindowLocksTheWholeWindow() {
        let window = CephBoundaryLocks.window
        let wrapped = CephBoundaryLocks.lockRange(ino: 7, first: window - 1, last: window)
        XCTAssertEqual(wrapped.length, window)
        XCTAssertEqual(wrapped.start % window, 0)
        XCTAssertEqual(CephBoundaryLocks.lockRange(ino: 7, first: 0, last: 2 * window).length, window)
    }
}

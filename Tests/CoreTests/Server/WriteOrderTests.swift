import XCTest

@testable import PohmelfsCore

/// `WriteOrder`: overlapping WRITEs of a file start in arrival order, one after the other;
/// WRITEs that overlap nothing before them start at once.
final class WriteOrderTests: XCTestCase {
    let file = ObjectHandle(bytes: [1, 2, 3])
    let other = ObjectHandle(bytes: [4, 5, 6])
    let mib: UInt64 = 1 << 20

    func testOverlappingWritesStartOneAfterTheOtherInArrivalOrder() {
        var order = WriteOrder()
        var started: [String] = []
        let a = order.admit(self.file, range: 0..<self.mib) { started.append("a") }
        let b = order.admit(self.file, range: 4096..<(4096 + self.mib)) { started.append("b") }
        let c = order.admit(self.file, range: 8192..<(8192 + self.mib)) { started.append("c") }
        XCTAssertEqual([a.startsNow, b.startsNow, c.startsNow], [true, false, false])
        order.finished(a.ticket).forEach { $0() }
        XCTAssertEqual(started, ["b"])  // c overlaps b, still under way
        order.finished(b.ticket).forEach { $0() }
        XCTAssertEqual(started, ["b", "c"])
        XCTAssertTrue(order.finished(c.ticket).isEmpty)
    }

    func testWritesThatOverlapNothingBeforeThemStartAtOnce() {
        var order = WriteOrder()
        let a = order.admit(self.file, range: 0..<self.mib) {}
        let b = order.admit(self.file, range: self.mib..<(2 * self.mib)) {}
        let c = order.admit(self.other, range: 0..<self.mib) {}
        XCTAssertEqual([a.startsNow, b.startsNow, c.startsNow], [true, true, true])
        // One that overlaps only a waiting one waits behind it.
        let d = order.admit(self.file, range: 0..<10) {}
        let e = order.admit(self.file, range: 5..<(2 * self.mib)) {}
        XCTAssertEqual([d.startsNow, e.startsNow], [false, false])
        XCTAssertTrue(order.finished(b.ticket).isEmpty)  // e still overlaps d
        XCTAssertEqual(order.finished(a.ticket).count, 1)  // d
        XCTAssertEqual(order.finished(d.ticket).count, 1)  // e
    }
}

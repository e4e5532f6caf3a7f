import Synchronization
import XCTest

@testable import PohmelfsCore

/// The server's delegation table without a network: the log's order, and returns that wait for it.
final class DelegationTableTests: XCTestCase {
    let holder = SessionID(1)
    let directory = ObjectHandle(bytes: [1, 2, 3])

    func testEntriesRunInSeqOrderWhateverOrderTheyArriveIn() {
        let table = DelegationTable()
        let ran = Mutex<[UInt64]>([])
        func arrive(_ seq: UInt64) {
            let apply: @Sendable () -> Void = { ran.withLock { $0.append(seq) } }
            switch table.sequence(seq, of: self.holder, apply: apply) {
            case .now:
                apply()
                table.advance(self.holder)
            case .parked, .duplicate:
                break
            }
        }
        for seq: UInt64 in [3, 2, 5, 1, 4, 6] { arrive(seq) }
        XCTAssertEqual(ran.withLock { $0 }, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(table.sequence(2, of: self.holder) {}, .duplicate)
    }

    func testAReturnWaitsForTheLogThroughItsLastSeq() {
        let table = DelegationTable()
        table.enable(self.holder)
        table.born(self.directory, to: self.holder)
        let returned = Atomic<Bool>(false)
        table.returned(self.directory, lastSeq: 1, by: self.holder) { returned.store(true, ordering: .relaxed) }
        XCTAssertFalse(returned.load(ordering: .relaxed), "entry 1 is not applied yet")
        XCTAssertFalse(table.isIdle)
        XCTAssertEqual(table.sequence(1, of: self.holder) {}, .now)
        table.advance(self.holder)
        XCTAssertTrue(returned.load(ordering: .relaxed))
        XCTAssertTrue(table.isIdle, "the delegation ended with the return")
    }

    func testEntriesOfARevokedDirectoryFailWithEIO() {
        let table = DelegationTable()
        table.enable(self.holder)
        table.born(self.directory, to: self.holder)
        table.holderGone(self.holder)
        XCTAssertThrowsError(try table.checkEntry(self.directory, staged: nil, by: self.holder)) {
            XCTAssertEqual($0 as? Errno, .io)
        }
    }

    func testOnlyADelegatingSessionGetsADirectoryAtBirth() {
        let table = DelegationTable()
        table.born(self.directory, to: self.holder)
        XCTAssertTrue(table.isIdle)
    }
}

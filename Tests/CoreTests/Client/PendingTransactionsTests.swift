@testable import PohmelfsCore
import XCTest

/// `PendingTransactions`: the id-to-completion table behind reply matching.
final class PendingTransactionsTests: XCTestCase {
    func testCompleteReturnsTheCompletionRegisteredForThatID() {
        var pending = PendingTransactions<String>()
        pending.insert(TransactionID(1), "one")
        pending.insert(TransactionID(2), "two")
        pending.insert(TransactionID(.max), "max")
        XCTAssertEqual(pending.count, 3)
        XCTAssertEqual(pending.complete(TransactionID(2)), "two")
        XCTAssertEqual(pending.complete(TransactionID(.max)), "max")
        XCTAssertEqual(pending.complete(TransactionID(1)), "one")
        XCTAssertEqual(pending.count, 0)
    }

    func testUnknownIDCompletesNothing() {
        var pending = PendingTransactions<String>()
        pending.insert(TransactionID(1), "one")
        XCTAssertNil(pending.complete(TransactionID(99)))
        XCTAssertNil(pending.complete(.none))
        XCTAssertEqual(pending.count, 1, "a stray reply must not disturb the waiting request")
    }

    func testAReplyCompletesOnlyOnce() {
        var pending = PendingTransactions<String>()
        pending.insert(TransactionID(7), "seven")
        XCTAssertEqual(pending.complete(TransactionID(7)), "seven")
        XCTAssertNil(pending.complete(TransactionID(7)), "a duplicate reply is unknown")
    }

    func testDrainReturnsEveryOutstandingCompletionAndEmpties() {
        var pending = PendingTransactions<Int>()
        for id in 1...100 { pending.insert(TransactionID(UInt64(id)), id) }
        XCTAssertEqual(pending.complete(TransactionID(50)), 50)
        let drained = pending.drain()
        XCTAssertEqual(drained.sorted(), Array(1...49) + Array(51...100))
        XCTAssertEqual(pending.count, 0)
        XCTAssertEqual(pending.drain(), [])
        XCTAssertNil(pending.complete(TransactionID(1)))
    }

    func testAnIDCanBeReusedOnceCompleted() {
        var pending = PendingTransactions<String>()
        pending.insert(TransactionID(3), "first")
        XCTAssertEqual(pending.complete(TransactionID(3)), "first")
        pending.insert(TransactionID(3), "second")
        XCTAssertEqual(pending.complete(TransactionID(3)), "second")
    }
}

import Logging
import NIOCore
import XCTest

@testable import PohmelfsCore

/// The client's retained requests and its reconnect backoff.
final class RetainedRequestsTests: XCTestCase {
    private func request(_ id: UInt64, submitted: NIODeadline = .uptimeNanoseconds(0)) -> RetainedRequest {
        RetainedRequest(
            transaction: TransactionID(id), opcode: .write, frame: ByteBuffer(), completion: { _ in },
            submitted: submitted)
    }

    func testRequestsAreResentInTheOrderTheyWereFirstSent() {
        var retained = RetainedRequests()
        for id: UInt64 in [7, 3, 9, 1] { retained.insert(self.request(id)) }
        XCTAssertEqual(retained.inOrder.map(\.transaction.rawValue), [1, 3, 7, 9])
        XCTAssertNotNil(retained.remove(TransactionID(3)))
        XCTAssertNil(retained.remove(TransactionID(3)))
        XCTAssertEqual(retained.inOrder.map(\.transaction.rawValue), [1, 7, 9])
    }

    func testExpiredRequestsAreRemovedAndTheOthersKept() {
        var retained = RetainedRequests()
        retained.insert(self.request(1, submitted: .uptimeNanoseconds(100)))
        retained.insert(self.request(2, submitted: .uptimeNanoseconds(500)))
        let expired = retained.removeExpired(now: .uptimeNanoseconds(1000)) { $0.submitted + .nanoseconds(600) }
        XCTAssertEqual(expired.map(\.transaction.rawValue), [1])
        XCTAssertEqual(retained.inOrder.map(\.transaction.rawValue), [2])
        XCTAssertEqual(retained.removeAll().count, 1)
        XCTAssertTrue(retained.isEmpty)
    }

    func testBackoffDoublesFromFiftyMillisecondsUpToTwoSeconds() {
        let policy = ResiliencePolicy(logger: Logger(label: "test"))
        XCTAssertEqual((1...8).map { policy.backoff(attempt: $0) }, [
            .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
            .milliseconds(1600), .seconds(2), .seconds(2),
        ])
    }
}

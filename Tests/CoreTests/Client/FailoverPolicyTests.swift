import XCTest

@testable import PohmelfsCore

/// Which server a reconnecting client tries, attempt by attempt, and the backoff round.
final class FailoverPolicyTests: XCTestCase {
    private let three = [
        ServerAddress(host: "a", port: 1), ServerAddress(host: "b", port: 2), ServerAddress(host: "c", port: 3),
    ]

    func testAClosedConnectionRetriesTheServerInUseFirstThenTheOthersInOrder() {
        var policy = FailoverPolicy(servers: self.three, current: 1)
        policy.lost(.closed)
        XCTAssertEqual((1...7).map { policy.server(forAttempt: $0) }, [1, 2, 0, 1, 2, 0, 1])
    }

    func testASilentServerIsTriedLastNotFirst() {
        var policy = FailoverPolicy(servers: self.three, current: 1)
        policy.lost(.silent)
        XCTAssertEqual((1...4).map { policy.server(forAttempt: $0) }, [2, 0, 1, 2])
    }

    func testTheBackoffGrowsPerRoundOverTheListNotPerServer() {
        let policy = FailoverPolicy(servers: self.three)
        XCTAssertEqual((1...7).map { policy.round(ofAttempt: $0) }, [1, 1, 1, 2, 2, 2, 3])
    }

    func testOneServerBehavesAsBefore() {
        var policy = FailoverPolicy(servers: [self.three[0]])
        policy.lost(.silent)
        XCTAssertEqual((1...3).map { policy.server(forAttempt: $0) }, [0, 0, 0])
        XCTAssertEqual((1...3).map { policy.round(ofAttempt: $0) }, [1, 2, 3])
    }

    func testTheServerReachedIsTheOneInUseAndTheNextOutageStartsThere() {
        var policy = FailoverPolicy(servers: self.three)
        policy.lost(.closed)
        policy.connected(to: policy.server(forAttempt: 2))
        XCTAssertEqual(policy.inUse, self.three[1])
        policy.lost(.closed)
        XCTAssertEqual(policy.server(forAttempt: 1), 1)
        XCTAssertEqual(policy.server(forAttempt: 3), 0, "a server that came back is eligible again")
    }
}

import PohmelfsCore
import XCTest

/// When the client polls /dev/fuse before sleeping (`RequestPolling`).
final class RequestPollingTests: XCTestCase {
    let microsecond: UInt64 = 1_000

    func test_pollsAfterARequestThatCameSoonAfterTheLastWentIdle() {
        var polling = RequestPolling(windowMicroseconds: 50)
        XCTAssertNil(polling.pollDeadline(at: 1_000 * self.microsecond, serverIdle: true))
        // 120 µs idle (a wake-up included): a burst.
        polling.requestRead(at: 1_120 * self.microsecond)
        XCTAssertEqual(polling.pollDeadline(at: 1_130 * self.microsecond, serverIdle: true), 1_180 * self.microsecond)
    }

    func test_aProgramCallingNowAndThenCostsNoPolling() {
        var polling = RequestPolling(windowMicroseconds: 50)
        var now: UInt64 = 0
        for _ in 0..<10 {
            _ = polling.pollDeadline(at: now, serverIdle: true)
            now += 1_000 * self.microsecond  // 1 ms between calls
            polling.requestRead(at: now)
            XCTAssertNil(polling.pollDeadline(at: now + 10 * self.microsecond, serverIdle: true))
        }
    }

    func test_aPollThatFindsNothingEndsTheBurstAndTheNextChanceIsSkipped() {
        var polling = RequestPolling(windowMicroseconds: 50)
        polling.requestRead(at: 0)
        let deadline = polling.pollDeadline(at: 10 * self.microsecond, serverIdle: true)
        XCTAssertEqual(deadline, 60 * self.microsecond)
        polling.pollFoundNothing(at: 60 * self.microsecond)
        // The loop comes back with /dev/fuse still empty (a late signal): no second poll.
        XCTAssertNil(polling.pollDeadline(at: 70 * self.microsecond, serverIdle: true))
        // The next request (100 µs later, a wake-up included) is in a burst, but its chance to
        // poll is skipped; the one after polls again, and a poll that finds one ends the back-off.
        polling.requestRead(at: 160 * self.microsecond)
        XCTAssertNil(polling.pollDeadline(at: 170 * self.microsecond, serverIdle: true))
        polling.requestRead(at: 260 * self.microsecond)
        XCTAssertEqual(polling.pollDeadline(at: 270 * self.microsecond, serverIdle: true), 320 * self.microsecond)
        polling.requestRead(at: 290 * self.microsecond)  // found by the poll
        XCTAssertEqual(polling.pollDeadline(at: 300 * self.microsecond, serverIdle: true), 350 * self.microsecond)
    }

    func test_aProgramCallingEveryHundredMicrosecondsPaysAPollInSixteenCalls() {
        var polling = RequestPolling(windowMicroseconds: 50)
        var now: UInt64 = 0
        var polls = 0
        for _ in 0..<64 {
            polling.requestRead(at: now)
            now += 5 * self.microsecond
            if let deadline = polling.pollDeadline(at: now, serverIdle: true) {
                polls += 1
                polling.pollFoundNothing(at: deadline)
                now = deadline
            }
            now += 100 * self.microsecond
        }
        // Calls 1, 3, 7, 15, then every sixteenth.
        XCTAssertEqual(polls, 7)
    }

    func test_noPollWhileTheServerOwesAReplyOrWhenTurnedOff() {
        var polling = RequestPolling(windowMicroseconds: 50)
        polling.requestRead(at: 0)
        XCTAssertNil(polling.pollDeadline(at: 5 * self.microsecond, serverIdle: false))
        var off = RequestPolling(windowMicroseconds: 0)
        off.requestRead(at: 0)
        XCTAssertNil(off.pollDeadline(at: 5 * self.microsecond, serverIdle: true))
    }

    func test_waitingForTheServerIsNotIdle() {
        var polling = RequestPolling(windowMicroseconds: 50)
        polling.requestRead(at: 0)
        XCTAssertEqual(polling.pollDeadline(at: 1 * self.microsecond, serverIdle: true), 51 * self.microsecond)
        polling.pollFoundNothing(at: 51 * self.microsecond)
        // A request that goes to the server; its reply comes 300 µs later (a slow CREATE).
        polling.requestRead(at: 60 * self.microsecond)
        XCTAssertNil(polling.pollDeadline(at: 65 * self.microsecond, serverIdle: false))
        XCTAssertNil(polling.pollDeadline(at: 365 * self.microsecond, serverIdle: true))  // the back-off's skip
        // The program's next call 35 µs after the reply is a burst: the client was idle from the
        // reply on, not from when the request left.
        polling.requestRead(at: 400 * self.microsecond)
        XCTAssertTrue(polling.inBurst)
    }

    func test_aCallerMeanwhileWaitingOnTheServerIsNotABurstWhenItCallsNowAndThen() {
        // A lock request waits at the server the whole time (SETLKW): the program's other calls,
        // 10 ms apart, are still not a burst.
        var polling = RequestPolling(windowMicroseconds: 50)
        var now: UInt64 = 0
        for _ in 0..<5 {
            polling.requestRead(at: now)
            XCTAssertNil(polling.pollDeadline(at: now + 5 * self.microsecond, serverIdle: false))
            now += 10_000 * self.microsecond
            polling.requestRead(at: now)
            XCTAssertFalse(polling.inBurst)
        }
    }

    func test_withoutPollingBurstsAreStillRecognized() {
        // POHMELFS_FUSE_POLL_US=0 leaves reply polling its bursts.
        var off = RequestPolling(windowMicroseconds: 0)
        XCTAssertNil(off.pollDeadline(at: 0, serverIdle: true))
        off.requestRead(at: 150 * self.microsecond)
        XCTAssertTrue(off.inBurst)
        XCTAssertNil(off.pollDeadline(at: 160 * self.microsecond, serverIdle: true))
        off.requestRead(at: 2_000 * self.microsecond)
        XCTAssertFalse(off.inBurst)
    }

    func test_theWindowComesFromTheEnvironment() {
        XCTAssertEqual(RequestPolling.windowMicroseconds(from: [:]), RequestPolling.defaultWindowMicroseconds)
        XCTAssertEqual(RequestPolling.windowMicroseconds(from: ["POHMELFS_FUSE_POLL_US": "0"]), 0)
        XCTAssertEqual(RequestPolling.windowMicroseconds(from: ["POHMELFS_FUSE_POLL_US": "200"]), 200)
        XCTAssertNil(RequestPolling.windowMicroseconds(from: ["POHMELFS_FUSE_POLL_US": "fast"]))
        XCTAssertNil(RequestPolling.windowMicroseconds(from: ["POHMELFS_FUSE_POLL_US": "2000"]))
    }
}

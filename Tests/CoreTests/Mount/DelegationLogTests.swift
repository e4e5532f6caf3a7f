import Synchronization
import XCTest

@testable import PohmelfsCore

/// The client's log of delegated operations: sent in seq order, `after` waits for answers.
final class DelegationLogTests: XCTestCase {
    func testEntriesAreSentInOrderAndAfterWaitsForTheirAnswers() {
        let log = DelegationLog()
        let sent = Mutex<[UInt64]>([])
        let answers = Mutex<[@Sendable () -> Void]>([])
        for _ in 0..<3 {
            log.append { seq in
                { answered in
                    sent.withLock { $0.append(seq) }
                    answers.withLock { $0.append(answered) }
                }
            }
        }
        XCTAssertEqual(sent.withLock { $0 }, [1, 2, 3])
        XCTAssertTrue(log.isBusy)
        let after2 = Atomic<Bool>(false)
        let afterAll = Atomic<Bool>(false)
        log.after(2) { after2.store(true, ordering: .relaxed) }
        log.afterLog { afterAll.store(true, ordering: .relaxed) }
        let pending = answers.withLock { $0 }
        pending[1]()  // entry 2 first: 1 is still unanswered
        XCTAssertFalse(after2.load(ordering: .relaxed))
        pending[0]()
        XCTAssertTrue(after2.load(ordering: .relaxed))
        XCTAssertFalse(afterAll.load(ordering: .relaxed))
        XCTAssertTrue(log.isAnswered(1))
        XCTAssertFalse(log.isAnswered(3))
        pending[2]()
        XCTAssertTrue(afterAll.load(ordering: .relaxed))
        XCTAssertFalse(log.isBusy)
        XCTAssertFalse(log.isAnswered(4), "never handed out")
    }

    func testAfterLogOnAnIdleLogRunsAtOnce() {
        let ran = Atomic<Bool>(false)
        DelegationLog().afterLog { ran.store(true, ordering: .relaxed) }
        XCTAssertTrue(ran.load(ordering: .relaxed))
    }

    /// A barrier holds back the entries after it (not the ones before), and `afterLog` waits
    /// for it even when every entry is answered.
    func testABarrierHoldsBackLaterEntriesAndAfterLogWaitsForIt() {
        let log = DelegationLog()
        let sent = Mutex<[UInt64]>([])
        let append: @Sendable () -> Void = {
            log.append { seq in
                { answered in
                    sent.withLock { $0.append(seq) }
                    answered()
                }
            }
        }
        append()
        let written = Latch()
        log.barrier { passed in written.wait(passed) }
        let afterBarrier = Atomic<Bool>(false)
        log.afterLog { afterBarrier.store(true, ordering: .relaxed) }
        append()
        XCTAssertEqual(sent.withLock { $0 }, [1], "entry 2 went before the barrier passed")
        XCTAssertTrue(log.isBusy)
        XCTAssertFalse(afterBarrier.load(ordering: .relaxed))
        written.open()
        XCTAssertEqual(sent.withLock { $0 }, [1, 2])
        XCTAssertTrue(afterBarrier.load(ordering: .relaxed))
        XCTAssertFalse(log.isBusy)
    }

    /// Operations waiting for the log re-check `isBusy` when they run (the file system's
    /// pattern); waiting operations are not work, so two of them never re-queue each other for
    /// ever (dbench on a delegation=on mount overflowed the client's stack that way).
    func testOperationsWaitingForTheLogDoNotKeepItBusy() {
        let log = DelegationLog()
        // A barrier not yet passed: operations that wait now queue markers behind it.
        let answer = Mutex<(@Sendable () -> Void)?>(nil)
        log.barrier { passed in answer.withLock { $0 = passed } }
        let runs = Atomic<Int>(0)
        let requeues = Atomic<Int>(0)
        @Sendable func operation() {
            if log.isBusy {
                guard requeues.add(1, ordering: .relaxed).newValue < 1_000 else { return }
                return log.afterLog(operation)
            }
            runs.add(1, ordering: .relaxed)
        }
        operation()
        operation()
        XCTAssertEqual(runs.load(ordering: .relaxed), 0, "the barrier is not passed")
        answer.withLock { $0 }?()
        XCTAssertEqual(runs.load(ordering: .relaxed), 2)
        XCTAssertLessThan(requeues.load(ordering: .relaxed), 10)
        XCTAssertFalse(log.isBusy)
    }
}

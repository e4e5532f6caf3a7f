import Dispatch
import PohmelfsCore
import Synchronization
import XCTest

/// The striped transaction-lock table (`StripedLockManager`): per file it behaves as one
/// `LockManager`, its tickets name one waiter whatever the stripe, and under contention from many
/// threads on few files it still keeps exclusive transactions apart.
final class StripedLockManagerTests: XCTestCase {
    private let t0 = ContinuousClock.now

    private func transaction(
        _ file: TestFile, _ number: UInt64, _ mode: LockMode, _ range: ClosedRange<UInt64> = 0...4095
    ) -> LockRequest<TestFile> {
        LockRequest.transaction(
            file: file, session: SessionID(1), transaction: TransactionID(number), mode: mode, range: ByteRange(range))
    }

    /// Waiters on files of different stripes get different tickets, and each unlock grants
    /// exactly the ticket its file's waiter was given; a cancel finds its waiter by that ticket.
    func testTicketsNameOneWaiterAcrossStripes() throws {
        let manager = StripedLockManager<TestFile>(stripeCount: 4)
        let files = (0..<16).map { TestFile("file\($0)") }
        var tickets: [TestFile: LockTicket] = [:]
        for (index, file) in files.enumerated() {
            let holder = self.transaction(file, UInt64(index * 10), .exclusive)
            XCTAssertEqual(try manager.lock(holder, wait: true, at: self.t0).outcome, .granted)
            let waiter = self.transaction(file, UInt64(index * 10 + 1), .shared)
            guard case .queued(let ticket) = try manager.lock(waiter, wait: true, at: self.t0).outcome else {
                return XCTFail("the reader of \(file) should wait behind its writer")
            }
            tickets[file] = ticket
        }
        XCTAssertEqual(Set(tickets.values).count, files.count, "two waiters share a ticket: \(tickets)")
        // A third request behind the reader, cancelled by its ticket.
        let late = self.transaction(files[5], 999, .exclusive)
        guard case .queued(let lateTicket) = try manager.lock(late, wait: true, at: self.t0).outcome else {
            return XCTFail("the late writer should wait")
        }
        XCTAssertEqual(try manager.cancel(lateTicket, at: self.t0), [])
        XCTAssertThrowsError(try manager.cancel(lateTicket, at: self.t0))
        for (index, file) in files.enumerated() {
            let holder = self.transaction(file, UInt64(index * 10), .exclusive)
            let grants = try manager.unlock(holder.owner, kind: .transaction, file: file, range: holder.range, at: self.t0)
            XCTAssertEqual(grants.map(\.ticket), [tickets[file]!], "unlocking \(file)")
            XCTAssertEqual(grants.first?.request.file, file)
        }
        let waiting = manager.snapshot().entries.filter {
            if case .waiting = $0.state { return true } else { return false }
        }
        XCTAssertEqual(waiting.count, 0)
        XCTAssertEqual(manager.snapshot().entries.count, files.count, "the granted readers hold their ranges")
    }

    /// Eight threads take non-blocking transaction locks on two files (a writer's range overlaps
    /// every reader's), retrying when refused: no reader ever runs beside a writer of the same
    /// file and no two writers run together, and every attempt eventually gets through.
    func testNonBlockingTransactionsExcludeEachOtherUnderContention() {
        let manager = StripedLockManager<TestFile>(stripeCount: 16)
        let files = [TestFile("a"), TestFile("b")]
        let inside = files.map { _ in Occupancy() }
        let violations = Atomic<Int>(0)
        let granted = Atomic<Int>(0)
        let rounds = 2000
        let threads = 8
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for round in 0..<rounds {
                let which = (thread + round) % files.count
                let exclusive = round % 4 == thread % 4
                let number = UInt64(thread * rounds + round)
                let offset = UInt64((round % 8) * 4096)
                let request = LockRequest.transaction(
                    file: files[which], session: SessionID(UInt64(thread)), transaction: TransactionID(number),
                    mode: exclusive ? .exclusive : .shared,
                    range: exclusive ? ByteRange(0...65535) : ByteRange(offset...offset + 4095))
                while true {
                    guard let decision = try? manager.lock(request, wait: false, at: ContinuousClock.now) else {
                        violations.add(1, ordering: .relaxed)
                        break
                    }
                    if case .granted = decision.outcome { break }
                    sched_yield()
                }
                if exclusive {
                    if inside[which].writers.add(1, ordering: .sequentiallyConsistent).newValue != 1
                        || inside[which].readers.load(ordering: .sequentiallyConsistent) != 0
                    {
                        violations.add(1, ordering: .relaxed)
                    }
                    inside[which].writers.subtract(1, ordering: .sequentiallyConsistent)
                } else {
                    inside[which].readers.add(1, ordering: .sequentiallyConsistent)
                    if inside[which].writers.load(ordering: .sequentiallyConsistent) != 0 { violations.add(1, ordering: .relaxed) }
                    inside[which].readers.subtract(1, ordering: .sequentiallyConsistent)
                }
                granted.add(1, ordering: .relaxed)
                _ = try? manager.unlock(
                    request.owner, kind: .transaction, file: request.file, range: request.range, at: ContinuousClock.now)
            }
        }
        XCTAssertEqual(violations.load(ordering: .relaxed), 0)
        XCTAssertEqual(granted.load(ordering: .relaxed), rounds * threads)
        XCTAssertTrue(manager.snapshot().entries.isEmpty, "every lock was released")
    }
}

/// Who is inside one file's locked section right now.
private final class Occupancy: Sendable {
    let readers = Atomic<Int>(0)
    let writers = Atomic<Int>(0)
}

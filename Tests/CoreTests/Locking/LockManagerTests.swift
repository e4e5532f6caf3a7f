import PohmelfsCore
import XCTest

final class LockManagerTests: XCTestCase {
    private typealias F = LockFixtures

    private let file = TestFile("data.db")
    private let other = TestFile("other.db")
    private let alice = F.owner(F.sessionA, 1, pid: 101)
    private let bob = F.owner(F.sessionB, 2, pid: 202)
    private let carol = F.owner(F.sessionB, 3, pid: 303)

    private func request(
        _ owner: LockOwnerKey,
        _ mode: LockMode,
        _ range: ClosedRange<UInt64>,
        kind: LockKind = .posix,
        on file: TestFile? = nil
    ) -> LockRequest<TestFile> {
        LockRequest(file: file ?? self.file, owner: owner, kind: kind, mode: mode, range: ByteRange(range))
    }

    /// Locks and expects the outcome; returns the ticket when queued.
    @discardableResult
    private func expect(
        _ manager: inout LockManager<TestFile>,
        _ request: LockRequest<TestFile>,
        wait: Bool,
        _ expected: LockOutcome,
        grants: [LockTicket] = [],
        file: StaticString = #filePath,
        line: UInt = #line
    ) throws -> LockTicket? {
        let decision = try manager.lock(request, wait: wait, at: F.t0)
        XCTAssertEqual(decision.outcome, expected, file: file, line: line)
        XCTAssertEqual(decision.grants.map(\.ticket), grants, file: file, line: line)
        if case .queued(let ticket) = decision.outcome { return ticket }
        return nil
    }

    @discardableResult
    private func queued(_ manager: inout LockManager<TestFile>, _ request: LockRequest<TestFile>) throws -> LockTicket {
        let decision = try manager.lock(request, wait: true, at: F.t0)
        guard case .queued(let ticket) = decision.outcome else {
            XCTFail("expected \(request) to queue, got \(decision.outcome)")
            throw LockError(.unknownTicket, "not queued")
        }
        return ticket
    }

    private func held(_ owner: LockOwnerKey, _ mode: LockMode, _ range: ClosedRange<UInt64>) -> FileLock {
        FileLock(owner: owner, kind: .posix, mode: mode, range: ByteRange(range), since: F.t0)
    }

    // MARK: Conflicts and waiting

    func testConflictingNonBlockingRequestWouldBlockWithTheConflictingLock() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...99), wait: false, .granted)
        let decision = try manager.lock(self.request(self.bob, .shared, 50...149), wait: false, at: F.t0)
        XCTAssertEqual(decision.outcome, .wouldBlock(conflict: self.held(self.alice, .exclusive, 0...99)))
        XCTAssertEqual(decision.outcome.error?.code, .wouldBlock)
        XCTAssertEqual(decision.outcome.error?.errno, Errno(EAGAIN))
        XCTAssertEqual(manager.waiters(on: self.file).count, 0, "a non-blocking request never queues")
        try self.expect(&manager, self.request(self.bob, .shared, 100...149), wait: false, .granted)
        try self.expect(&manager, self.request(self.alice, .shared, 0...eof), wait: false, .granted)
    }

    func testLocksOfTheSameOwnerNeverConflict() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...99), wait: false, .granted)
        try self.expect(&manager, self.request(self.alice, .exclusive, 50...149), wait: false, .granted)
        try self.expect(&manager, self.request(self.alice, .shared, 20...29), wait: false, .granted)
        XCTAssertEqual(
            manager.locks(on: self.file),
            [
                self.held(self.alice, .exclusive, 0...19), self.held(self.alice, .shared, 20...29),
                self.held(self.alice, .exclusive, 30...149),
            ]
        )
    }

    func testQueuedRequestIsGrantedByUnlockAndReturnedAsValue() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...99), wait: true, .granted)
        let ticket = try self.queued(&manager, self.request(self.bob, .exclusive, 10...19))
        XCTAssertEqual(manager.waiters(on: self.file).map(\.ticket), [ticket])

        // Unlocking bytes the waiter does not need grants nothing.
        XCTAssertEqual(
            try manager.unlock(self.alice, kind: .posix, file: self.file, range: ByteRange(50...99), at: F.t0),
            []
        )
        let later = F.t0.advanced(by: .seconds(1))
        let grants = try manager.unlock(self.alice, kind: .posix, file: self.file, range: ByteRange(0...19), at: later)
        XCTAssertEqual(grants, [LockGrant(ticket: ticket, request: self.request(self.bob, .exclusive, 10...19))])
        XCTAssertEqual(
            manager.locks(on: self.file),
            [
                self.held(self.alice, .exclusive, 20...49),
                FileLock(owner: self.bob, kind: .posix, mode: .exclusive, range: ByteRange(10...19), since: later),
            ],
            "the granted lock is held since the grant"
        )
        XCTAssertTrue(manager.waiters(on: self.file).isEmpty)
    }

    func testReaderArrivingAfterAWaitingWriterQueuesBehindIt() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .shared, 0...99), wait: true, .granted)
        let writer = try self.queued(&manager, self.request(self.bob, .exclusive, 0...99))

        // A reader compatible with the held read lock still waits behind the writer, so a stream
        // of readers cannot starve it; a non-blocking reader is refused, naming the writer.
        let reader = try self.queued(&manager, self.request(self.carol, .shared, 50...59))
        let refusal = try manager.lock(self.request(self.carol, .shared, 0...0), wait: false, at: F.t0)
        XCTAssertEqual(
            refusal.outcome,
            .wouldBlock(
                conflict: FileLock(
                    owner: self.bob,
                    kind: .posix,
                    mode: .exclusive,
                    range: ByteRange(0...99),
                    since: F.t0
                )
            )
        )
        XCTAssertEqual(try manager.test(self.request(self.carol, .shared, 0...0))?.owner, self.bob)
        try self.expect(&manager, self.request(self.carol, .shared, 100...199), wait: true, .granted)

        // The writer goes first, the reader after it.
        let first = try manager.unlock(self.alice, kind: .posix, file: self.file, range: .wholeFile, at: F.t0)
        XCTAssertEqual(first.map(\.ticket), [writer])
        let second = try manager.unlock(self.bob, kind: .posix, file: self.file, range: .wholeFile, at: F.t0)
        XCTAssertEqual(second.map(\.ticket), [reader])
    }

    func testReleasingReadersGrantsEveryWaitingReaderAtOnce() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...eof), wait: true, .granted)
        let first = try self.queued(&manager, self.request(self.bob, .shared, 0...9))
        let second = try self.queued(&manager, self.request(self.carol, .shared, 5...14))
        let grants = manager.releaseAll(owner: self.alice, kind: .posix, in: self.file, at: F.t0)
        XCTAssertEqual(grants.map(\.ticket), [first, second])
    }

    func testHolderCanExtendItsLockPastAWriterThatWaitsForIt() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .shared, 0...9), wait: true, .granted)
        let writer = try self.queued(&manager, self.request(self.bob, .exclusive, 0...99))
        // Alice's new bytes overlap the waiting writer, but the writer waits for Alice anyway:
        // queueing Alice behind it would deadlock the two.
        try self.expect(&manager, self.request(self.alice, .shared, 10...49), wait: false, .granted)
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...49), wait: true, .granted)
        XCTAssertEqual(manager.locks(on: self.file), [self.held(self.alice, .exclusive, 0...49)])
        let grants = manager.releaseAll(owner: self.alice, kind: .posix, at: F.t0)
        XCTAssertEqual(grants.map(\.ticket), [writer])
    }

    func testDowngradeGrantsWaitingReaders() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...99), wait: true, .granted)
        let reader = try self.queued(&manager, self.request(self.bob, .shared, 0...9))
        try self.expect(&manager, self.request(self.alice, .shared, 0...99), wait: false, .granted, grants: [reader])
    }

    func testCancelRemovesAWaiterAndLetsThoseBehindItThrough() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .shared, 0...99), wait: true, .granted)
        let writer = try self.queued(&manager, self.request(self.bob, .exclusive, 0...99))
        let reader = try self.queued(&manager, self.request(self.carol, .shared, 0...9))
        let grants = try manager.cancel(writer, at: F.t0)
        XCTAssertEqual(grants.map(\.ticket), [reader], "the reader only waited behind the writer")
        XCTAssertTrue(manager.waiters(on: self.file).isEmpty)
        XCTAssertThrowsError(try manager.cancel(writer, at: F.t0)) { error in
            XCTAssertEqual((error as? LockError)?.code, .unknownTicket)
        }
        XCTAssertThrowsError(try manager.cancel(reader, at: F.t0), "a granted ticket is no longer waiting")
    }

    // MARK: Deadlock

    func testTwoOwnerCycleIsRefusedWithEDEADLK() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...9), wait: true, .granted)
        try self.expect(&manager, self.request(self.bob, .exclusive, 0...9, on: self.other), wait: true, .granted)
        let aliceWaits = try self.queued(&manager, self.request(self.alice, .exclusive, 0...9, on: self.other))
        let decision = try manager.lock(self.request(self.bob, .shared, 5...5), wait: true, at: F.t0)
        XCTAssertEqual(decision.outcome, .deadlock)
        XCTAssertEqual(decision.outcome.error?.errno, Errno(EDEADLK))
        XCTAssertEqual(manager.waiters(on: self.file).count, 0, "a refused request does not queue")
        // Bob may still ask without waiting, and gets EAGAIN.
        try self.expect(
            &manager,
            self.request(self.bob, .shared, 5...5),
            wait: false,
            .wouldBlock(conflict: self.held(self.alice, .exclusive, 0...9))
        )
        // Once Bob gives up his lock, Alice gets hers.
        let grants = manager.releaseAll(owner: self.bob, kind: .posix, at: F.t0)
        XCTAssertEqual(grants.map(\.ticket), [aliceWaits])
    }

    func testTwoOwnersUpgradingOneReadLockDeadlock() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .shared, 0...9), wait: true, .granted)
        try self.expect(&manager, self.request(self.bob, .shared, 0...9), wait: true, .granted)
        try self.queued(&manager, self.request(self.alice, .exclusive, 0...9))
        try self.expect(&manager, self.request(self.bob, .exclusive, 0...9), wait: true, .deadlock)
    }

    func testThreeOwnerCycleIsRefusedWithEDEADLK() throws {
        var manager = LockManager<TestFile>()
        let files = (0..<3).map { TestFile("f\($0)") }
        let owners = [self.alice, self.bob, self.carol]
        for index in 0..<3 {
            try self.expect(
                &manager,
                self.request(owners[index], .exclusive, 0...0, on: files[index]),
                wait: true,
                .granted
            )
        }
        // alice waits for bob, bob waits for carol; carol asking for alice's file closes the cycle.
        try self.queued(&manager, self.request(self.alice, .exclusive, 0...0, on: files[1]))
        try self.queued(&manager, self.request(self.bob, .exclusive, 0...0, on: files[2]))
        try self.expect(&manager, self.request(self.carol, .exclusive, 0...0, on: files[0]), wait: true, .deadlock)
        // A fourth owner joining the end of the chain waits: a chain is not a cycle.
        try self.queued(&manager, self.request(F.owner(F.sessionA, 4), .exclusive, 0...0, on: files[0]))
    }

    func testCycleThroughAFairQueueEdgeIsDetected() throws {
        var manager = LockManager<TestFile>()
        // bob holds a read lock on file; alice waits to write it; carol's read then queues behind alice.
        try self.expect(&manager, self.request(self.bob, .shared, 0...9), wait: true, .granted)
        try self.expect(&manager, self.request(self.carol, .exclusive, 0...9, on: self.other), wait: true, .granted)
        try self.queued(&manager, self.request(self.alice, .exclusive, 0...9))
        try self.queued(&manager, self.request(self.carol, .shared, 0...9))
        // bob waiting for carol's lock on `other` would close bob -> carol -> alice -> bob.
        try self.expect(&manager, self.request(self.bob, .shared, 0...0, on: self.other), wait: true, .deadlock)
    }

    func testCycleLongerThanTheSearchDepthIsNotDetected() throws {
        var manager = LockManager<TestFile>()
        let count = 14
        let owners = (0..<count).map { F.owner(F.sessionA, UInt64(100 + $0)) }
        let files = (0..<count).map { TestFile("ring\($0)") }
        for index in 0..<count {
            try self.expect(
                &manager,
                self.request(owners[index], .exclusive, 0...0, on: files[index]),
                wait: true,
                .granted
            )
        }
        for index in 0..<(count - 1) {
            try self.queued(&manager, self.request(owners[index], .exclusive, 0...0, on: files[index + 1]))
        }
        // Like Linux after MAX_DEADLK_ITERATIONS, the detector gives up and lets the request wait.
        try self.queued(&manager, self.request(owners[count - 1], .exclusive, 0...0, on: files[0]))
    }

    func testOfdRequestsAreNotCheckedForDeadlock() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .shared, 0...9, kind: .ofd), wait: true, .granted)
        try self.expect(&manager, self.request(self.bob, .shared, 0...9, kind: .ofd), wait: true, .granted)
        try self.queued(&manager, self.request(self.alice, .exclusive, 0...9, kind: .ofd))
        try self.queued(&manager, self.request(self.bob, .exclusive, 0...9, kind: .ofd))
    }

    // MARK: Release

    func testReleaseSessionDropsItsLocksAndWaitersAndGrantsOthers() throws {
        var manager = LockManager<TestFile>()
        let sessionBWriter = F.owner(F.sessionB, 9)
        try self.expect(&manager, self.request(self.bob, .exclusive, 0...eof), wait: true, .granted)
        try self.expect(&manager, self.request(self.carol, .shared, 0...9, on: self.other), wait: true, .granted)
        let aliceWaits = try self.queued(&manager, self.request(self.alice, .shared, 0...9))
        let aliceWaitsOther = try self.queued(&manager, self.request(self.alice, .exclusive, 0...9, on: self.other))
        try self.queued(&manager, self.request(sessionBWriter, .exclusive, 0...9))
        let grants = manager.releaseSession(F.sessionB, at: F.t0)
        XCTAssertEqual(Set(grants.map(\.ticket)), [aliceWaits, aliceWaitsOther])
        XCTAssertEqual(manager.snapshot().entries.filter { $0.owner.session == F.sessionB }, [])
        XCTAssertEqual(manager.snapshot().entries.count, 2)
        XCTAssertEqual(manager.releaseSession(F.sessionA, at: F.t0), [])
        XCTAssertTrue(manager.isEmpty, "files without locks or waiters are forgotten")
    }

    func testReleaseAllOnCloseTouchesOnlyThatKindAndFileAndKeepsWaiters() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...9), wait: true, .granted)
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...9, on: self.other), wait: true, .granted)
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...eof, kind: .flock), wait: true, .granted)
        try self.expect(&manager, self.request(self.bob, .exclusive, 20...29), wait: true, .granted)
        let aliceWaits = try self.queued(&manager, self.request(self.alice, .shared, 20...29))

        XCTAssertEqual(manager.releaseAll(owner: self.alice, kind: .posix, in: self.file, at: F.t0), [])
        XCTAssertEqual(
            manager.locks(on: self.file).map(\.holder),
            [LockHolder(owner: self.alice, kind: .flock), LockHolder(owner: self.bob, kind: .posix)]
        )
        XCTAssertEqual(manager.locks(on: self.other).count, 1, "another file's locks stay")
        XCTAssertEqual(manager.waiters(on: self.file).map(\.ticket), [aliceWaits], "waiters stay across a close")
    }

    // MARK: F_GETLK, kinds, transactions

    func testTestReportsTheConflictingLockOfAnotherOwner() throws {
        var manager = LockManager<TestFile>()
        XCTAssertNil(try manager.test(self.request(self.bob, .exclusive, 0...eof)), "nothing locked")
        try self.expect(&manager, self.request(self.alice, .shared, 10...19), wait: false, .granted)
        try self.expect(&manager, self.request(self.carol, .shared, 30...39), wait: false, .granted)
        XCTAssertNil(try manager.test(self.request(self.bob, .shared, 0...eof)), "shared locks are compatible")
        XCTAssertEqual(
            try manager.test(self.request(self.bob, .exclusive, 15...eof)),
            self.held(self.alice, .shared, 10...19)
        )
        XCTAssertEqual(
            try manager.test(self.request(self.bob, .exclusive, 20...eof)),
            self.held(self.carol, .shared, 30...39)
        )
        XCTAssertNil(try manager.test(self.request(self.alice, .exclusive, 0...29)), "own locks never conflict")
        XCTAssertEqual(manager.locks(on: self.file).count, 2, "test changes nothing")
    }

    func testFlockLocksCoverTheWholeFileAndIgnoreRecordLocks() throws {
        var manager = LockManager<TestFile>()
        XCTAssertThrowsError(
            try manager.lock(self.request(self.alice, .shared, 0...9, kind: .flock), wait: false, at: F.t0)
        ) {
            XCTAssertEqual(($0 as? LockError)?.errno, Errno.invalid)
        }
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...eof), wait: false, .granted)
        try self.expect(&manager, self.request(self.bob, .exclusive, 0...eof, kind: .flock), wait: false, .granted)
        let ticket = try self.queued(&manager, self.request(self.carol, .shared, 0...eof, kind: .flock))
        let grants = try manager.unlock(self.bob, kind: .flock, file: self.file, range: .wholeFile, at: F.t0)
        XCTAssertEqual(grants.map(\.ticket), [ticket])
    }

    func testTransactionLocksArePageAlignedAndIndependentOfRecordLocks() throws {
        var manager = LockManager<TestFile>()
        try self.expect(&manager, self.request(self.alice, .exclusive, 0...eof), wait: false, .granted)
        let write = LockRequest.transaction(
            file: self.file,
            session: F.sessionA,
            transaction: TransactionID(7),
            mode: .exclusive,
            range: ByteRange(5000...(5000 + (1 << 20) - 1))
        )
        XCTAssertEqual(write.range, ByteRange(4096...(1 << 20) + 8191))
        try self.expect(&manager, write, wait: true, .granted)
        let read = LockRequest.transaction(
            file: self.file,
            session: F.sessionB,
            transaction: TransactionID(7),
            mode: .shared,
            range: ByteRange(0...4096)
        )
        let ticket = try self.queued(&manager, read)
        let grants = try manager.unlock(write.owner, kind: .transaction, file: self.file, range: write.range, at: F.t0)
        XCTAssertEqual(grants, [LockGrant(ticket: ticket, request: read)])
    }

    // MARK: Snapshot and shell

    func testSnapshotShowsHeldAndWaitingLocksWithWhomTheyWaitBehind() throws {
        var manager = LockManager<TestFile>()
        let start = F.t0
        _ = try manager.lock(self.request(self.alice, .shared, 0...eof), wait: true, at: start)
        let writer = try manager.lock(
            self.request(self.bob, .exclusive, 4096...8191),
            wait: true,
            at: start.advanced(by: .seconds(2))
        )
        let reader = try manager.lock(
            self.request(self.carol, .shared, 4096...4096),
            wait: true,
            at: start.advanced(by: .seconds(3))
        )
        guard case .queued(let writerTicket) = writer.outcome, case .queued(let readerTicket) = reader.outcome else {
            return XCTFail("both should wait")
        }
        let entries = manager.snapshot().entries
        XCTAssertEqual(entries.count, 3)
        XCTAssertEqual(entries[0].state, .held)
        XCTAssertEqual(entries[0].owner.pid, 101)
        XCTAssertEqual(entries[0].age(at: start.advanced(by: .seconds(10))), .seconds(10))
        let aliceLock = LockSnapshot<TestFile>.Blocker(
            owner: self.alice,
            kind: .posix,
            mode: .shared,
            range: .wholeFile,
            isWaiting: false
        )
        let bobRequest = LockSnapshot<TestFile>.Blocker(
            owner: self.bob,
            kind: .posix,
            mode: .exclusive,
            range: ByteRange(4096...8191),
            isWaiting: true
        )
        XCTAssertEqual(entries[1].state, .waiting(ticket: writerTicket, behind: [aliceLock]))
        XCTAssertEqual(entries[1].age(at: start.advanced(by: .seconds(10))), .seconds(8))
        XCTAssertEqual(entries[2].state, .waiting(ticket: readerTicket, behind: [bobRequest]))
        XCTAssertEqual(entries[2].owner.pid, 303)
        XCTAssertTrue(manager.snapshot(including: { $0 == self.other }).entries.isEmpty)
    }

    func testSharedLockManagerForwardsToTheValueUnderItsMutex() throws {
        let shared = SharedLockManager<TestFile>()
        XCTAssertEqual(
            try shared.lock(self.request(self.alice, .exclusive, 0...9), wait: true, at: F.t0).outcome,
            .granted
        )
        let decision = try shared.lock(self.request(self.bob, .exclusive, 0...9), wait: true, at: F.t0)
        guard case .queued(let ticket) = decision.outcome else { return XCTFail("should wait") }
        XCTAssertEqual(try shared.test(self.request(self.carol, .shared, 0...0))?.owner, self.alice)
        XCTAssertEqual(shared.snapshot().entries.count, 2)
        XCTAssertEqual(shared.releaseAll(owner: self.alice, kind: .posix, at: F.t0).map(\.ticket), [ticket])
        XCTAssertEqual(try shared.unlock(self.bob, kind: .posix, file: self.file, range: .wholeFile, at: F.t0), [])
        XCTAssertThrowsError(try shared.cancel(ticket, at: F.t0))
        XCTAssertEqual(shared.releaseSession(F.sessionA, at: F.t0), [])
        XCTAssertTrue(shared.snapshot().entries.isEmpty)
    }
}

import PohmelfsCore
import XCTest

/// Table-driven cases for merging, trimming and splitting one file's locks (STYLE guideline 13).
final class FileLockListTests: XCTestCase {
    private typealias F = LockFixtures

    /// One step applied to the list.
    private enum Step {
        case lock(LockHolder, LockMode, ClosedRange<UInt64>)
        case unlock(LockHolder, ClosedRange<UInt64>)
    }

    /// A named case: the steps, and the locks expected afterwards, in list order.
    private struct Case {
        var name: String
        var steps: [Step]
        var expected: [FileLock]
    }

    private let a = F.posix(1)
    private let b = F.posix(2)

    private func read(_ holder: LockHolder, _ range: ClosedRange<UInt64>) -> FileLock { F.lock(holder, .shared, range) }
    private func write(_ holder: LockHolder, _ range: ClosedRange<UInt64>) -> FileLock {
        F.lock(holder, .exclusive, range)
    }

    /// Runs every case from an empty list; every lock step must be free of conflicts.
    private func check(_ cases: [Case], file: StaticString = #filePath, line: UInt = #line) {
        for testCase in cases {
            var list = FileLockList()
            for step in testCase.steps {
                switch step {
                case .lock(let holder, let mode, let range):
                    let conflict = list.apply(F.lock(holder, mode, range))
                    XCTAssertNil(conflict, "\(testCase.name): unexpected conflict", file: file, line: line)
                case .unlock(let holder, let range):
                    list.unlock(holder, range: ByteRange(range))
                }
            }
            XCTAssertEqual(list.locks, testCase.expected, testCase.name, file: file, line: line)
        }
    }

    func testSameModeLocksMergeWhenAdjacentOrOverlapping() {
        self.check([
            Case(
                name: "adjacent",
                steps: [.lock(a, .shared, 0...9), .lock(a, .shared, 10...19)],
                expected: [read(a, 0...19)]
            ),
            Case(
                name: "adjacent, second before first",
                steps: [.lock(a, .exclusive, 10...19), .lock(a, .exclusive, 0...9)],
                expected: [write(a, 0...19)]
            ),
            Case(
                name: "overlapping",
                steps: [.lock(a, .shared, 0...9), .lock(a, .shared, 5...19)],
                expected: [read(a, 0...19)]
            ),
            Case(
                name: "contained",
                steps: [.lock(a, .shared, 0...19), .lock(a, .shared, 5...9)],
                expected: [read(a, 0...19)]
            ),
            Case(
                name: "gap of one byte stays",
                steps: [.lock(a, .shared, 0...9), .lock(a, .shared, 11...19)],
                expected: [read(a, 0...9), read(a, 11...19)]
            ),
            Case(
                name: "bridging two locks",
                steps: [.lock(a, .shared, 0...4), .lock(a, .shared, 10...14), .lock(a, .shared, 5...9)],
                expected: [read(a, 0...14)]
            ),
            Case(
                name: "covering several locks",
                steps: [.lock(a, .exclusive, 3...4), .lock(a, .exclusive, 10...14), .lock(a, .exclusive, 0...eof)],
                expected: [write(a, 0...eof)]
            ),
        ])
    }

    func testDifferentModesOfOneOwnerStaySeparate() {
        self.check([
            Case(
                name: "adjacent read and write",
                steps: [.lock(a, .shared, 0...9), .lock(a, .exclusive, 10...19)],
                expected: [read(a, 0...9), write(a, 10...19)]
            ),
            Case(
                name: "another owner's adjacent read is not merged",
                steps: [.lock(a, .shared, 0...9), .lock(b, .shared, 10...19)],
                expected: [read(a, 0...9), read(b, 10...19)]
            ),
        ])
    }

    func testDifferentModeInTheMiddleSplitsOneLockIntoThree() {
        self.check([
            Case(
                name: "write in the middle of a read",
                steps: [.lock(a, .shared, 0...99), .lock(a, .exclusive, 40...59)],
                expected: [read(a, 0...39), write(a, 40...59), read(a, 60...99)]
            ),
            Case(
                name: "read in the middle of a write to EOF",
                steps: [.lock(a, .exclusive, 0...eof), .lock(a, .shared, 100...199)],
                expected: [write(a, 0...99), read(a, 100...199), write(a, 200...eof)]
            ),
            Case(
                name: "write over the end of a read trims it",
                steps: [.lock(a, .shared, 0...99), .lock(a, .exclusive, 50...149)],
                expected: [read(a, 0...49), write(a, 50...149)]
            ),
            Case(
                name: "write over the start of a read trims it",
                steps: [.lock(a, .shared, 50...149), .lock(a, .exclusive, 0...99)],
                expected: [write(a, 0...99), read(a, 100...149)]
            ),
        ])
    }

    func testUnlockInTheMiddleSplitsLock() {
        self.check([
            Case(
                name: "middle",
                steps: [.lock(a, .exclusive, 0...99), .unlock(a, 40...59)],
                expected: [write(a, 0...39), write(a, 60...99)]
            ),
            Case(
                name: "across two locks of different modes",
                steps: [.lock(a, .shared, 0...49), .lock(a, .exclusive, 50...99), .unlock(a, 25...74)],
                expected: [read(a, 0...24), write(a, 75...99)]
            ),
            Case(name: "exact", steps: [.lock(a, .shared, 0...99), .unlock(a, 0...99)], expected: []),
            Case(
                name: "nothing locked there",
                steps: [.lock(a, .shared, 0...9), .unlock(a, 20...29)],
                expected: [read(a, 0...9)]
            ),
            Case(
                name: "another owner's lock is untouched",
                steps: [.lock(a, .shared, 0...9), .lock(b, .shared, 0...9), .unlock(b, 0...eof)],
                expected: [read(a, 0...9)]
            ),
            Case(name: "nothing locked at all", steps: [.unlock(a, 0...eof)], expected: []),
        ])
    }

    func testUnlockToEndOfFile() {
        self.check([
            Case(
                name: "lock to EOF, unlock the tail",
                steps: [.lock(a, .shared, 0...eof), .unlock(a, 100...eof)],
                expected: [read(a, 0...99)]
            ),
            Case(
                name: "several locks, unlock from the middle of one",
                steps: [.lock(a, .exclusive, 10...19), .lock(a, .shared, 30...39), .unlock(a, 15...eof)],
                expected: [write(a, 10...14)]
            ),
            Case(
                name: "unlock everything",
                steps: [.lock(a, .exclusive, 10...eof), .unlock(a, 0...eof)],
                expected: []
            ),
        ])
    }

    func testUpgradeAndDowngradeHappenInPlace() {
        self.check([
            Case(
                name: "upgrade the whole read lock",
                steps: [.lock(a, .shared, 0...99), .lock(a, .exclusive, 0...99)],
                expected: [write(a, 0...99)]
            ),
            Case(
                name: "downgrade the whole write lock",
                steps: [.lock(a, .exclusive, 0...99), .lock(a, .shared, 0...99)],
                expected: [read(a, 0...99)]
            ),
            Case(
                name: "downgrade a part",
                steps: [.lock(a, .exclusive, 0...99), .lock(a, .shared, 20...29)],
                expected: [write(a, 0...19), read(a, 20...29), write(a, 30...99)]
            ),
            Case(
                name: "upgrade the middle, then downgrade it again, merges back",
                steps: [.lock(a, .shared, 0...99), .lock(a, .exclusive, 40...59), .lock(a, .shared, 40...59)],
                expected: [read(a, 0...99)]
            ),
            Case(
                name: "upgrade across two read locks and the gap",
                steps: [.lock(a, .shared, 0...9), .lock(a, .shared, 20...29), .lock(a, .exclusive, 5...24)],
                expected: [read(a, 0...4), write(a, 5...24), read(a, 25...29)]
            ),
        ])
    }

    func testRangesAtTheEdgesOfUInt64() {
        let top = UInt64.max
        self.check([
            Case(
                name: "last byte before EOF and the EOF byte merge",
                steps: [.lock(a, .shared, (top - 1)...(top - 1)), .lock(a, .shared, top...top)],
                expected: [read(a, (top - 1)...top)]
            ),
            Case(
                name: "unlock the last byte of a whole-file lock",
                steps: [.lock(a, .exclusive, 0...eof), .unlock(a, top...top)],
                expected: [write(a, 0...(top - 1))]
            ),
            Case(
                name: "unlock the first byte of a whole-file lock",
                steps: [.lock(a, .exclusive, 0...eof), .unlock(a, 0...0)],
                expected: [write(a, 1...eof)]
            ),
            Case(
                name: "byte zero and the rest merge into the whole file",
                steps: [.lock(a, .shared, 1...eof), .lock(a, .shared, 0...0)],
                expected: [read(a, 0...eof)]
            ),
            Case(
                name: "write on the last byte splits a whole-file read",
                steps: [.lock(a, .shared, 0...eof), .lock(a, .exclusive, top...top)],
                expected: [read(a, 0...(top - 1)), write(a, top...top)]
            ),
            Case(
                name: "write on byte zero splits a whole-file read",
                steps: [.lock(a, .shared, 0...eof), .lock(a, .exclusive, 0...0)],
                expected: [write(a, 0...0), read(a, 1...eof)]
            ),
            Case(
                name: "a gap of one byte just below the top stays",
                steps: [.lock(a, .shared, 0...(top - 2)), .lock(a, .shared, top...top)],
                expected: [read(a, 0...(top - 2)), read(a, top...top)]
            ),
        ])
    }

    func testConflictsNeedAnotherOwnerAnOverlapAndAnExclusiveMode() {
        var list = FileLockList()
        XCTAssertNil(list.apply(self.read(a, 0...9)))
        XCTAssertNil(list.apply(self.read(b, 5...14)), "shared and shared are compatible")
        XCTAssertEqual(list.apply(self.write(b, 0...3)), self.read(a, 0...9))
        XCTAssertNil(list.apply(self.write(b, 10...19)), "no overlap with a's lock")
        XCTAssertNil(list.firstConflict(with: self.write(a, 0...4)), "own locks never conflict")
        XCTAssertEqual(list.firstConflict(with: self.write(a, 0...eof)), self.read(b, 5...9))
        XCTAssertEqual(list.conflicts(with: self.write(a, 0...eof)), [self.read(b, 5...9), self.write(b, 10...19)])
        XCTAssertEqual(list.locks, [self.read(a, 0...9), self.read(b, 5...9), self.write(b, 10...19)])
    }

    func testKindsConflictOnlyWithinTheirDomain() {
        let key = F.owner(F.sessionA, 7)
        let posix = LockHolder(owner: key, kind: .posix)
        let ofd = LockHolder(owner: key, kind: .ofd)
        let flock = LockHolder(owner: F.owner(F.sessionB, 8), kind: .flock)
        let transaction = LockHolder(owner: F.owner(F.sessionB, 9), kind: .transaction)
        var list = FileLockList()
        XCTAssertNil(list.apply(F.lock(posix, .exclusive, 0...eof)))
        XCTAssertEqual(
            list.firstConflict(with: F.lock(ofd, .shared, 0...0)),
            F.lock(posix, .exclusive, 0...eof),
            "POSIX and OFD locks conflict even with equal owner keys"
        )
        XCTAssertNil(list.apply(F.lock(flock, .exclusive, 0...eof)), "flock ignores record locks")
        XCTAssertNil(list.apply(F.lock(transaction, .exclusive, 0...4095)), "I/O ignores advisory locks")
        XCTAssertEqual(list.locks.count, 3)
    }

    func testPidOfTheLatestRequestIsKeptAndTheEarliestSinceSurvivesAMerge() {
        let early = F.t0
        let late = F.t0.advanced(by: .seconds(5))
        let first = FileLock(
            owner: F.owner(F.sessionA, 1, pid: 100),
            kind: .posix,
            mode: .shared,
            range: ByteRange(0...9),
            since: early
        )
        let second = FileLock(
            owner: F.owner(F.sessionA, 1, pid: 200),
            kind: .posix,
            mode: .shared,
            range: ByteRange(10...19),
            since: late
        )
        var list = FileLockList()
        list.apply(first)
        list.apply(second)
        XCTAssertEqual(list.locks.count, 1)
        XCTAssertEqual(list.locks.first?.range, ByteRange(0...19))
        XCTAssertEqual(list.locks.first?.owner.pid, 200)
        XCTAssertEqual(list.locks.first?.since, early)
    }
}

import Foundation
import PohmelfsCore
import XCTest


/// Drives `LockManager` and `LockModel` with the same random operations and requires them to agree
/// after every step: the bytes each holder holds in which mode, the queue, the grants each
/// operation returns, and every grant-or-refuse decision.
///
/// The seed is printed; set `POHMELFS_LOCK_SEED` to replay one, `POHMELFS_LOCK_STEPS` to change
/// the number of steps (100,000 by default).
final class LockModelCheckTests: XCTestCase {
    private typealias Cells = LockModel.Cells

    /// Five holders: two POSIX owners of session A, one of session B, an OFD holder with the same
    /// owner key as B's POSIX owner (they must conflict), and a transaction holder with the same
    /// key as A's first owner (it must conflict with neither).
    private static let holders: [LockHolder] = [
        LockHolder(owner: LockFixtures.owner(LockFixtures.sessionA, 1, pid: 10), kind: .posix),
        LockHolder(owner: LockFixtures.owner(LockFixtures.sessionA, 2, pid: 11), kind: .posix),
        LockHolder(owner: LockFixtures.owner(LockFixtures.sessionB, 1, pid: 20), kind: .posix),
        LockHolder(owner: LockFixtures.owner(LockFixtures.sessionB, 1, pid: 20), kind: .ofd),
        LockHolder(owner: LockFixtures.owner(LockFixtures.sessionA, 1), kind: .transaction),
    ]

    private static let file = TestFile("model")
    private static let maximumQueue = 8

    /// A disagreement between the manager and the model.
    private struct Mismatch: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    func testManagerAgreesWithPerByteModelOnEveryStep() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["POHMELFS_LOCK_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        let steps = environment["POHMELFS_LOCK_STEPS"].flatMap { Int($0) } ?? 100_000
        print("LockModelCheck seed: \(seed)")

        var run = Run(seed: seed)
        let started = ContinuousClock.now
        for step in 0..<steps {
            do {
                try run.step()
            } catch {
                XCTFail("LockModelCheck seed \(seed), step \(step), \(run.lastAction): \(error)")
                return
            }
        }
        let elapsed = ContinuousClock.now - started
        let counts = run.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        print("LockModelCheck: \(steps) steps in \(elapsed); \(counts.joined(separator: " "))")
        // A check that never reaches the interesting cases proves nothing: demand that it does.
        guard steps >= 10_000 else { return }
        XCTAssertGreaterThan(run.counts["granted", default: 0], steps / 20, "the run should grant often")
        XCTAssertGreaterThan(run.counts["wouldBlock", default: 0], steps / 50, "and refuse often")
        XCTAssertGreaterThan(run.counts["queuedGrant", default: 0], steps / 200, "and grant waiters")
        XCTAssertGreaterThan(run.counts["deadlock", default: 0], 0, "and see deadlocks")
    }

    /// One run: the manager, the model, the generator and some statistics.
    private struct Run {
        var rng: SplitMix64
        var manager = LockManager<TestFile>()
        var model = LockModel(holders: LockModelCheckTests.holders)
        var now = LockFixtures.t0
        var counts: [String: Int] = [:]
        var lastAction = ""
        /// Tickets that were granted or cancelled, for cancels that must fail.
        var pastTickets: [LockTicket] = []

        init(seed: UInt64) {
            self.rng = SplitMix64(seed: seed)
        }

        private mutating func random(_ range: Range<Int>) -> Int { Int.random(in: range, using: &self.rng) }

        /// A random run of cells, biased towards short ranges, with some reaching EOF or the top.
        private mutating func randomCells() -> ClosedRange<Int> {
            let first: Int
            switch self.random(0..<10) {
            case 0: first = 0
            case 1: first = self.random(Cells.tailCell..<Cells.count)
            default: first = self.random(0..<(Cells.lastByteCell + 1))
            }
            let last: Int
            switch self.random(0..<10) {
            case 0, 1: last = Cells.count - 1
            case 2: last = max(first, self.random(Cells.tailCell..<Cells.count))
            default: last = first >= Cells.tailCell ? first : min(Cells.lastByteCell, first + self.random(0..<12))
            }
            return first...last
        }

        private mutating func randomRequest() -> LockModel.Request {
            LockModel.Request(
                holder: self.random(0..<LockModelCheckTests.holders.count),
                mode: self.random(0..<2) == 0 ? .shared : .exclusive,
                cells: self.randomCells()
            )
        }

        private func managerRequest(_ request: LockModel.Request) -> LockRequest<TestFile> {
            let holder = LockModelCheckTests.holders[request.holder]
            return LockRequest(
                file: LockModelCheckTests.file,
                owner: holder.owner,
                kind: holder.kind,
                mode: request.mode,
                range: Cells.range(request.cells)
            )
        }

        private mutating func count(_ key: String) { self.counts[key, default: 0] += 1 }

        mutating func step() throws {
            self.now = self.now.advanced(by: .microseconds(1))
            let roll = self.random(0..<100)
            switch roll {
            case 0..<35:
                try self.lock(wait: false)
            case 35..<52:
                if self.model.queue.count >= LockModelCheckTests.maximumQueue {
                    try self.cancel()
                } else {
                    try self.lock(wait: true)
                }
            case 52..<75:
                try self.unlock()
            case 75..<84:
                try self.cancel()
            case 84..<93:
                // `test` is non-mutating, so the state needs no comparison afterwards.
                return try self.test()
            case 93..<98:
                try self.releaseAll()
            default:
                try self.releaseSession()
            }
            try self.compareState()
        }

        private mutating func lock(wait: Bool) throws {
            let request = self.randomRequest()
            self.lastAction = "lock(\(request), wait: \(wait))"
            let decision = try self.manager.lock(self.managerRequest(request), wait: wait, at: self.now)
            let blockers = self.model.blockers(ofNew: request)
            var expectedGrants: [LockTicket] = []
            switch decision.outcome {
            case .granted:
                self.count("granted")
                guard blockers.isEmpty else { throw Mismatch("manager granted, model blocked by \(blockers)") }
                self.model.apply(request)
                expectedGrants = self.model.grantReady()
            case .wouldBlock(let conflict):
                self.count("wouldBlock")
                guard !wait else { throw Mismatch("a blocking request was refused with \(conflict)") }
                try self.checkConflict(conflict, blockers: blockers)
            case .queued(let ticket):
                self.count("queued")
                guard wait, !blockers.isEmpty else { throw Mismatch("manager queued, model blockers \(blockers)") }
                let holder = LockModelCheckTests.holders[request.holder]
                if holder.kind == .posix
                    && self.model.wouldDeadlock(requester: request.holder, blockers: blockers.map(\.holder))
                {
                    throw Mismatch("manager queued, model sees a deadlock")
                }
                self.model.enqueue(ticket, request)
            case .deadlock:
                self.count("deadlock")
                let holder = LockModelCheckTests.holders[request.holder]
                guard wait, holder.kind == .posix, !blockers.isEmpty,
                    self.model.wouldDeadlock(requester: request.holder, blockers: blockers.map(\.holder))
                else { throw Mismatch("manager saw a deadlock the model does not") }
            }
            try self.checkGrants(decision.grants, expected: expectedGrants)
        }

        private mutating func unlock() throws {
            let holder = self.random(0..<LockModelCheckTests.holders.count)
            let cells = self.randomCells()
            let key = LockModelCheckTests.holders[holder]
            self.lastAction = "unlock(holder \(holder), \(cells))"
            let grants = try self.manager.unlock(
                key.owner,
                kind: key.kind,
                file: LockModelCheckTests.file,
                range: Cells.range(cells),
                at: self.now
            )
            self.model.unlock(holder: holder, cells: cells)
            try self.checkGrants(grants, expected: self.model.grantReady())
        }

        private mutating func cancel() throws {
            let waiting = self.model.queue
            if waiting.isEmpty || self.random(0..<10) == 0 {
                let ticket =
                    self.pastTickets.isEmpty ? LockTicket(0) : self.pastTickets[self.random(0..<self.pastTickets.count)]
                self.lastAction = "cancel(\(ticket)) of a request no longer waiting"
                do {
                    _ = try self.manager.cancel(ticket, at: self.now)
                    throw Mismatch("cancel of \(ticket) succeeded")
                } catch let error as LockError where error.code == .unknownTicket {
                    return
                }
            }
            let ticket = waiting[self.random(0..<waiting.count)].ticket
            self.lastAction = "cancel(\(ticket))"
            self.count("cancel")
            let grants = try self.manager.cancel(ticket, at: self.now)
            _ = self.model.cancel(ticket)
            self.pastTickets.append(ticket)
            try self.checkGrants(grants, expected: self.model.grantReady())
        }

        private mutating func test() throws {
            let request = self.randomRequest()
            self.lastAction = "test(\(request))"
            let conflict = try self.manager.test(self.managerRequest(request))
            let blockers = self.model.blockers(ofNew: request)
            if let conflict {
                try self.checkConflict(conflict, blockers: blockers)
            } else if !blockers.isEmpty {
                throw Mismatch("test found no conflict, model blocked by \(blockers)")
            }
        }

        private mutating func releaseAll() throws {
            let holder = self.random(0..<LockModelCheckTests.holders.count)
            let key = LockModelCheckTests.holders[holder]
            let elsewhere = self.random(0..<4) == 0
            self.lastAction = "releaseAll(holder \(holder), elsewhere: \(elsewhere))"
            let file = elsewhere ? TestFile("elsewhere") : (self.random(0..<2) == 0 ? LockModelCheckTests.file : nil)
            let grants = self.manager.releaseAll(owner: key.owner, kind: key.kind, in: file, at: self.now)
            if !elsewhere {
                self.model.releaseAll(holder: holder)
            }
            try self.checkGrants(grants, expected: self.model.grantReady())
        }

        private mutating func releaseSession() throws {
            let session = self.random(0..<2) == 0 ? LockFixtures.sessionA : LockFixtures.sessionB
            self.lastAction = "releaseSession(\(session))"
            let before = Set(self.model.queue.map(\.ticket))
            let grants = self.manager.releaseSession(session, at: self.now)
            self.model.releaseSession(session)
            self.pastTickets += before.subtracting(self.model.queue.map(\.ticket))
            try self.checkGrants(grants, expected: self.model.grantReady())
        }

        // MARK: Comparisons

        /// A reported conflict must come from a holder the model says blocks the request, and be
        /// a lock the manager really holds or a request that really waits.
        private func checkConflict(_ conflict: FileLock, blockers: [LockModel.Blocker]) throws {
            guard let holder = LockModelCheckTests.holders.firstIndex(of: conflict.holder) else {
                throw Mismatch("conflict \(conflict) names an unknown holder")
            }
            let isHeld = self.manager.locks(on: LockModelCheckTests.file).contains(conflict)
            let isWaiting = self.manager.waiters(on: LockModelCheckTests.file).contains { $0.lock == conflict }
            guard blockers.contains(LockModel.Blocker(holder: holder, isWaiting: !isHeld)), isHeld || isWaiting else {
                throw Mismatch("conflict \(conflict) (held: \(isHeld)) is not among the model's blockers \(blockers)")
            }
        }

        private mutating func checkGrants(_ grants: [LockGrant<TestFile>], expected: [LockTicket]) throws {
            guard grants.map(\.ticket) == expected else {
                throw Mismatch("manager granted \(grants.map(\.ticket)), model \(expected)")
            }
            self.pastTickets += expected
            if !expected.isEmpty { self.counts["queuedGrant", default: 0] += expected.count }
        }

        /// Held bytes per holder and mode, the queue, and the list's own invariants.
        private func compareState() throws {
            let locks = self.manager.locks(on: LockModelCheckTests.file)
            var held = [UInt8](repeating: 0, count: LockModelCheckTests.holders.count * Cells.count)
            var previous: FileLock?
            for lock in locks {
                guard let holder = LockModelCheckTests.holders.firstIndex(of: lock.holder) else {
                    throw Mismatch("unknown holder in \(lock)")
                }
                let first = Cells.index(of: lock.range.start)
                let last = Cells.index(of: lock.range.end)
                guard Cells.start(first) == lock.range.start, Cells.end(last) == lock.range.end else {
                    throw Mismatch("\(lock) does not fall on cell boundaries")
                }
                for cell in first...last {
                    guard held[holder * Cells.count + cell] == 0 else { throw Mismatch("\(lock) overlaps its holder") }
                    held[holder * Cells.count + cell] = LockModel.code(lock.mode)
                }
                if let previous {
                    try Self.checkOrder(previous, lock)
                }
                previous = lock
            }
            guard held == self.model.held else {
                throw Mismatch("held bytes differ:\n\(self.describe(held))\nmodel:\n\(self.describe(self.model.held))")
            }
            let waiters = self.manager.waiters(on: LockModelCheckTests.file)
            let queue = self.model.queue
            let same =
                waiters.count == queue.count
                && zip(waiters, queue).allSatisfy { actual, wanted in
                    actual.ticket == wanted.ticket && actual.lock.mode == wanted.request.mode
                        && actual.lock.range == Cells.range(wanted.request.cells)
                        && actual.lock.holder == LockModelCheckTests.holders[wanted.request.holder]
                }
            guard same else {
                throw Mismatch("queues differ: \(waiters.map(\.ticket)) vs model \(self.model.queue.map(\.ticket))")
            }
            if let index = self.model.firstGrantable() {
                throw Mismatch("model waiter \(self.model.queue[index]) could be granted but waits")
            }
            try self.checkNoConflicts()
            guard self.manager.isEmpty == self.model.isEmpty else {
                throw Mismatch("manager empty: \(self.manager.isEmpty), model empty: \(self.model.isEmpty)")
            }
        }

        private static let kindOrder = Dictionary(uniqueKeysWithValues: zip(LockKind.allCases, 0...))

        /// Two neighbouring locks in the list: holders in order, and within one holder sorted,
        /// disjoint, and not touching when in the same mode.
        private static func checkOrder(_ a: FileLock, _ b: FileLock) throws {
            if a.holder == b.holder {
                guard a.range.end < b.range.start else { throw Mismatch("\(a) and \(b) out of order or overlapping") }
                if a.mode == b.mode && a.range.touches(b.range) {
                    throw Mismatch("\(a) and \(b) should have been merged")
                }
                return
            }
            // The manager orders holders by session, owner, then kind in declaration order.
            let keyA = (a.owner.session.rawValue, a.owner.owner.rawValue, Self.kindOrder[a.kind]!)
            let keyB = (b.owner.session.rawValue, b.owner.owner.rawValue, Self.kindOrder[b.kind]!)
            guard keyA < keyB else { throw Mismatch("holders of \(a) and \(b) out of order") }
        }

        /// No cell is held by two holders in conflicting modes.
        private func checkNoConflicts() throws {
            let holders = LockModelCheckTests.holders
            try self.model.held.withUnsafeBufferPointer { held in
                for a in holders.indices {
                    for b in (a + 1)..<holders.count where holders[a].kind.sharesConflictDomain(with: holders[b].kind) {
                        for cell in 0..<Cells.count {
                            let modeA = held[a * Cells.count + cell]
                            let modeB = held[b * Cells.count + cell]
                            if modeA != 0 && modeB != 0 && (modeA == 2 || modeB == 2) {
                                throw Mismatch("holders \(a) and \(b) conflict on cell \(cell)")
                            }
                        }
                    }
                }
            }
        }

        private func describe(_ held: [UInt8]) -> String {
            LockModelCheckTests.holders.indices.map { holder in
                let row = (0..<Cells.count).map { [".", "r", "W"][Int(held[holder * Cells.count + $0])] }
                return "  \(holder): " + row.joined()
            }.joined(separator: "\n")
        }
    }
}

import PohmelfsCore

/// The brute-force model the lock manager is checked against (STYLE guideline 13): one file whose
/// offset space is cut into a few cells, a per-cell table of which holder holds which mode, and a
/// plain FIFO list of waiting requests.
///
/// The model knows nothing of ranges, merging or splitting: locking writes the mode into every
/// cell of the range, unlocking clears them. Its waiting rules are the specification, written as
/// directly as possible: a request is blocked by every other holder with a conflicting mode on
/// one of its cells, and by every earlier conflicting waiter unless that waiter depends on the
/// request's holder; the earliest unblocked waiter is granted, again and again.
struct LockModel {
    /// The offset space: bytes 0..<64 one cell each, then one cell for 64 up to `UInt64.max - 3`,
    /// then one cell for each of the last three offsets, so ranges reach and straddle the top.
    enum Cells {
        static var count: Int { 68 }
        static var lastByteCell: Int { 63 }
        static var tailCell: Int { 64 }

        static func start(_ cell: Int) -> UInt64 {
            switch cell {
            case 0...Self.tailCell: return UInt64(cell)
            default: return UInt64.max - UInt64(Self.count - 1 - cell)
            }
        }

        static func end(_ cell: Int) -> UInt64 {
            switch cell {
            case 0...Self.lastByteCell: return UInt64(cell)
            case Self.tailCell: return UInt64.max - 3
            default: return UInt64.max - UInt64(Self.count - 1 - cell)
            }
        }

        /// The cell holding `offset`.
        static func index(of offset: UInt64) -> Int {
            if offset <= UInt64(Self.lastByteCell) { return Int(offset) }
            if offset <= UInt64.max - 3 { return Self.tailCell }
            return Self.count - 1 - Int(UInt64.max - offset)
        }

        /// The byte range of a run of cells.
        static func range(_ cells: ClosedRange<Int>) -> ByteRange {
            ByteRange(Self.start(cells.lowerBound), Self.end(cells.upperBound))
        }
    }

    /// A lock request in model terms.
    struct Request: Equatable {
        var holder: Int
        var mode: LockMode
        var cells: ClosedRange<Int>
    }

    /// A waiting request.
    struct Waiter: Equatable {
        var ticket: LockTicket
        var request: Request
    }

    /// Who blocks a request: a holder, and whether through a waiting request.
    struct Blocker: Equatable {
        var holder: Int
        var isWaiting: Bool
    }

    /// The holders the model knows, by index.
    let holders: [LockHolder]
    /// held[holder * Cells.count + cell]: 0 = nothing, 1 = shared, 2 = exclusive.
    private(set) var held: [UInt8]
    /// The waiting requests in arrival order.
    private(set) var queue: [Waiter] = []

    /// Each holder's conflict domain as a small number, so the hot loops compare integers.
    private let domains: [Int]

    init(holders: [LockHolder]) {
        self.holders = holders
        self.domains = holders.map { holder in
            LockKind.allCases.firstIndex { holder.kind.sharesConflictDomain(with: $0) }!
        }
        self.held = Array(repeating: 0, count: holders.count * Cells.count)
    }

    static func code(_ mode: LockMode) -> UInt8 { mode == .shared ? 1 : 2 }

    /// Whether nothing is held and nothing waits.
    var isEmpty: Bool { self.queue.isEmpty && self.held.allSatisfy { $0 == 0 } }

    /// Whether holder `a` in mode `am` and holder `b` in mode code `bm` conflict.
    private func conflicts(_ a: Int, _ am: UInt8, _ b: Int, _ bm: UInt8) -> Bool {
        a != b && self.domains[a] == self.domains[b] && (am == 2 || bm == 2)
    }

    /// The blockers and dependency set of `request` standing behind the first `ahead` waiters.
    /// Dependency sets are bit masks over holder indices (bit `h` set: depends on holder `h`).
    private func analyse(_ request: Request, ahead: Int, dependencies: [UInt32]) -> ([Blocker], UInt32) {
        var blockers: [Blocker] = []
        var depends: UInt32 = 0
        let mode = Self.code(request.mode)
        for other in self.holders.indices where self.conflicts(request.holder, mode, other, 2) {
            let base = other * Cells.count
            for cell in request.cells {
                let otherMode = self.held[base + cell]
                if otherMode != 0 && self.conflicts(request.holder, mode, other, otherMode) {
                    blockers.append(Blocker(holder: other, isWaiting: false))
                    depends |= 1 << other
                    break
                }
            }
        }
        for index in 0..<ahead {
            let waiter = self.queue[index].request
            guard waiter.cells.overlaps(request.cells),
                self.conflicts(request.holder, mode, waiter.holder, Self.code(waiter.mode)),
                dependencies[index] & (1 << request.holder) == 0
            else { continue }
            blockers.append(Blocker(holder: waiter.holder, isWaiting: true))
            depends |= 1 << waiter.holder | dependencies[index]
        }
        return (blockers, depends)
    }

    /// Dependency sets of the first `count` waiters.
    private func dependencies(upTo count: Int) -> [UInt32] {
        var dependencies: [UInt32] = []
        for index in 0..<count {
            dependencies.append(self.analyse(self.queue[index].request, ahead: index, dependencies: dependencies).1)
        }
        return dependencies
    }

    /// What blocks a new request (empty: it would be granted now).
    func blockers(ofNew request: Request) -> [Blocker] {
        self.analyse(request, ahead: self.queue.count, dependencies: self.dependencies(upTo: self.queue.count)).0
    }

    /// The index of the earliest waiter nothing blocks.
    func firstGrantable() -> Int? {
        var dependencies: [UInt32] = []
        for index in self.queue.indices {
            let (blockers, depends) = self.analyse(self.queue[index].request, ahead: index, dependencies: dependencies)
            if blockers.isEmpty { return index }
            dependencies.append(depends)
        }
        return nil
    }

    /// Grants the earliest grantable waiter until none is left; returns their tickets in order.
    mutating func grantReady() -> [LockTicket] {
        var granted: [LockTicket] = []
        while let index = self.firstGrantable() {
            let waiter = self.queue.remove(at: index)
            self.apply(waiter.request)
            granted.append(waiter.ticket)
        }
        return granted
    }

    /// Makes the holder hold the mode on every cell of the request.
    mutating func apply(_ request: Request) {
        let base = request.holder * Cells.count
        for cell in request.cells {
            self.held[base + cell] = Self.code(request.mode)
        }
    }

    /// Clears the holder's cells in the range.
    mutating func unlock(holder: Int, cells: ClosedRange<Int>) {
        let base = holder * Cells.count
        for cell in cells {
            self.held[base + cell] = 0
        }
    }

    /// Clears everything the holder holds.
    mutating func releaseAll(holder: Int) {
        self.unlock(holder: holder, cells: 0...(Cells.count - 1))
    }

    /// Clears every lock and waiter of the holders in `session`.
    mutating func releaseSession(_ session: SessionID) {
        for holder in self.holders.indices where self.holders[holder].owner.session == session {
            self.releaseAll(holder: holder)
        }
        self.queue.removeAll { self.holders[$0.request.holder].owner.session == session }
    }

    /// Queues a request.
    mutating func enqueue(_ ticket: LockTicket, _ request: Request) {
        self.queue.append(Waiter(ticket: ticket, request: request))
    }

    /// Removes a waiter; false if it was not waiting.
    mutating func cancel(_ ticket: LockTicket) -> Bool {
        guard let index = self.queue.firstIndex(where: { $0.ticket == ticket }) else { return false }
        self.queue.remove(at: index)
        return true
    }

    /// Whether a POSIX requester waiting for `blockers` could reach itself in the waits-for graph,
    /// followed without a depth limit (the model has fewer holders than the detector's depth).
    func wouldDeadlock(requester: Int, blockers: [Int]) -> Bool {
        var visited: Set<Int> = []
        var frontier = blockers
        while let holder = frontier.popLast() {
            guard visited.insert(holder).inserted else { continue }
            if holder == requester { return true }
            guard self.holders[holder].kind == .posix else { continue }
            let dependencies = self.dependencies(upTo: self.queue.count)
            for index in self.queue.indices where self.queue[index].request.holder == holder {
                let (found, _) = self.analyse(self.queue[index].request, ahead: index, dependencies: dependencies)
                frontier += found.map(\.holder)
            }
        }
        return false
    }

    /// The mode code holder `holder` holds on `cell`.
    func mode(of holder: Int, at cell: Int) -> UInt8 {
        self.held[holder * Cells.count + cell]
    }
}

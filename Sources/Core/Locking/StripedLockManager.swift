/// A `SharedLockManager` per stripe of files: requests on different files take different mutexes.
///
/// Locks of one file never interact with locks of another (conflicts, FIFO queues and grants are
/// all per file), and a family that never waits for a lock while holding one (the server's
/// transaction locks) needs no deadlock detection across files. So the table can be split by file
/// and every operation on one file still sees exactly what one `LockManager` would. The server's
/// I/O threads then contend only when they touch files of the same stripe.
///
/// Not for POSIX record locks: their deadlock detector follows owners across files.
///
/// Tickets: each stripe counts its own; a ticket handed out here is the stripe's ticket times
/// `stripeCount` plus the stripe's index, so it names one stripe's waiter and is never reused.
public final class StripedLockManager<File: Hashable & Sendable>: Sendable {
    private let stripes: [SharedLockManager<File>]

    /// `stripeCount` is rounded up to at least 1.
    public init(stripeCount: Int = 16) {
        self.stripes = (0..<max(stripeCount, 1)).map { _ in SharedLockManager() }
    }

    public var stripeCount: Int { self.stripes.count }

    private func index(of file: File) -> Int {
        Int(UInt(bitPattern: file.hashValue) % UInt(self.stripes.count))
    }

    private func global(_ ticket: LockTicket, stripe: Int) -> LockTicket {
        LockTicket(ticket.rawValue * UInt64(self.stripes.count) + UInt64(stripe))
    }

    private func globalGrants(_ grants: [LockGrant<File>], stripe: Int) -> [LockGrant<File>] {
        grants.map { LockGrant(ticket: self.global($0.ticket, stripe: stripe), request: $0.request) }
    }

    /// See `LockManager.test(_:)`.
    public func test(_ request: LockRequest<File>) throws(LockError) -> FileLock? {
        try self.stripes[self.index(of: request.file)].test(request)
    }

    /// See `LockManager.lock(_:wait:at:)`.
    public func lock(_ request: LockRequest<File>, wait: Bool, at now: ContinuousClock.Instant) throws(LockError)
        -> LockDecision<File>
    {
        let stripe = self.index(of: request.file)
        var decision = try self.stripes[stripe].lock(request, wait: wait, at: now)
        if case .queued(let ticket) = decision.outcome { decision.outcome = .queued(self.global(ticket, stripe: stripe)) }
        if !decision.grants.isEmpty { decision.grants = self.globalGrants(decision.grants, stripe: stripe) }
        return decision
    }

    /// See `LockManager.unlock(_:kind:file:range:at:)`.
    public func unlock(
        _ owner: LockOwnerKey, kind: LockKind, file: File, range: ByteRange, at now: ContinuousClock.Instant
    ) throws(LockError) -> [LockGrant<File>] {
        let stripe = self.index(of: file)
        let grants = try self.stripes[stripe].unlock(owner, kind: kind, file: file, range: range, at: now)
        return grants.isEmpty ? grants : self.globalGrants(grants, stripe: stripe)
    }

    /// See `LockManager.cancel(_:at:)`.
    public func cancel(_ ticket: LockTicket, at now: ContinuousClock.Instant) throws(LockError) -> [LockGrant<File>] {
        let count = UInt64(self.stripes.count)
        let stripe = Int(ticket.rawValue % count)
        let grants = try self.stripes[stripe].cancel(LockTicket(ticket.rawValue / count), at: now)
        return self.globalGrants(grants, stripe: stripe)
    }

    /// Every stripe's table, one after the other (each consistent in itself; locks taken and
    /// released while the stripes are visited may or may not show).
    public func snapshot(including include: (File) -> Bool = { _ in true }) -> LockSnapshot<File> {
        var entries: [LockSnapshot<File>.Entry] = []
        for (stripe, manager) in self.stripes.enumerated() {
            for var entry in manager.snapshot(including: include).entries {
                if case .waiting(let ticket, let behind) = entry.state {
                    entry.state = .waiting(ticket: self.global(ticket, stripe: stripe), behind: behind)
                }
                entries.append(entry)
            }
        }
        return LockSnapshot(entries: entries)
    }
}

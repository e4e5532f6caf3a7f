import Dispatch
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The grace period after a server start (`serve --grace-period`): clients that held locks
/// before the restart take them back (SETLK with `reclaim`) before anyone else may take new ones.
///
/// While it lasts:
/// - a reclaiming SETLK is performed as usual (it cannot conflict with a new lock, since none
///   are granted; reclaims of one client never conflict with each other's either);
/// - any other lock request (not an unlock) is held back: a non-blocking one fails with
///   EAGAIN, a blocking one waits and is performed when the grace period ends (CANCEL answers
///   it EINTR meanwhile, as for any blocked request).
/// Unlocks, GETLK and everything else proceed normally.
///
/// The server only has a grace period when a previous run may have left clients holding locks
/// (`ReclaimMarker`): a first start, or one after a clean shutdown with no lock held, has none.
extension LockService {
    /// A blocking request held back for the grace period.
    struct GraceHold {
        var transaction: TransactionID
        var allocator: ByteBufferAllocator
        var respond: @Sendable (ByteBuffer) -> Void
    }

    /// How much of the grace period is left; nil once it is over (or there is none).
    var graceRemaining: Duration? {
        guard let ends = self.graceEnds else { return nil }
        let left = ends - self.now
        return left > .zero ? left : nil
    }

    /// During the grace period: throws EAGAIN for a non-blocking lock request that is not a
    /// reclaim, or holds a blocking one back (returns true; it is answered through `respond`
    /// later). False: carry on.
    func holdForGrace(
        _ request: SetlkRequest, file: ObjectHandle, session: SessionID, transaction: TransactionID,
        allocator: ByteBufferAllocator, respond: @escaping @Sendable (ByteBuffer) -> Void
    ) throws -> Bool {
        guard request.type != .unlock, !request.reclaim, let remaining = self.graceRemaining else { return false }
        guard request.wait else { throw Errno(EAGAIN) }
        let key = RequestKey(session: session, transaction: transaction)
        self.heldForGrace.withLock { $0[key] = GraceHold(transaction: transaction, allocator: allocator, respond: respond) }
        let nanoseconds = remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds) + 1_000_000)) {
            guard self.heldForGrace.withLock({ $0.removeValue(forKey: key) }) != nil else { return }  // cancelled
            let reply: ByteBuffer?
            do {
                reply = try self.setlk(
                    request, file: file, session: session, transaction: transaction, allocator: allocator,
                    respond: respond)
            } catch {
                reply = FrameEncoding.errorReply(
                    (error as? Errno) ?? .io, opcode: .setlk, transaction: transaction, allocator: allocator)
            }
            if let reply { respond(reply) }
        }
        return true
    }

    /// CANCEL of a request held for the grace period: answered EINTR, never performed. False
    /// when `key` is not held here.
    func cancelGraceHold(_ key: RequestKey) -> Bool {
        guard let hold = self.heldForGrace.withLock({ $0.removeValue(forKey: key) }) else { return false }
        hold.respond(
            FrameEncoding.errorReply(.interrupted, opcode: .setlk, transaction: hold.transaction, allocator: hold.allocator))
        return true
    }

    /// Whether any client lock (POSIX, OFD, flock) is held, for `ReclaimMarker` at shutdown.
    public var holdsClientLocks: Bool { !self.records.snapshot().entries.isEmpty }
}

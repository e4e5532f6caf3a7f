/// A waiting request that has just been granted. Mutating `LockManager` operations return these
/// instead of waking anyone (STYLE guideline 12): the caller answers the blocked request after it
/// has left the lock manager's critical section.
public struct LockGrant<File: Hashable & Sendable>: Hashable, Sendable, CustomStringConvertible {
    /// The ticket `lock(_:wait:at:)` returned when it queued the request.
    public var ticket: LockTicket
    /// The request, as it was made.
    public var request: LockRequest<File>

    public init(ticket: LockTicket, request: LockRequest<File>) {
        self.ticket = ticket
        self.request = request
    }

    public var description: String { "\(self.ticket) granted: \(self.request)" }
}

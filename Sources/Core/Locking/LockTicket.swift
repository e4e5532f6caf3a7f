/// Names one waiting lock request, from the moment `LockManager.lock(_:wait:at:)` queues it until it
/// is granted (it then appears in a `LockGrant`) or cancelled.
///
/// Tickets come from a counter in the `LockManager` that only goes up, so a ticket is never
/// reused and a late cancel for a request that was already granted cannot hit a newer one.
public struct LockTicket: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: LockTicket, rhs: LockTicket) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "ticket:\(self.rawValue)" }
}

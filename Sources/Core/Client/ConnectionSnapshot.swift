import Foundation

/// A client connection's state at one moment, for `pohmelfs status`.
public struct ConnectionSnapshot: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        /// HELLO answered; requests flow.
        case connected
        /// The connection was lost; reconnecting with backoff, requests wait.
        case reconnecting
        /// Reconnected to a new session; reopening files and reclaiming locks.
        case restoring
        /// Closed for good (unmounting).
        case closed
    }

    public var state: State
    public var session: SessionID
    /// When the connection entered `state`.
    public var since: Date
}

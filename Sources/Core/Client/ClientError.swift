/// Why the client could not get an answer from the server. Failures the server reports are
/// `Errno` values instead; this type is for the connection itself.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The server could not be reached (refused, no route, timed out connecting).
        case unreachable
        /// The connection closed while the request was outstanding, or before it was sent.
        case connectionClosed
        /// The server broke the protocol; the connection was closed.
        case protocolViolation
        /// No protocol version both sides speak.
        case versionMismatch
        /// The peer at the address is not a pohmelfs server: it answered something else, or
        /// nothing within the HELLO deadline (`FirstContact`).
        case notPohmelfs
        /// A soft mount's request went unanswered for its timeout while the server was away.
        case timedOut
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }

    /// The errno a filesystem caller should see for this failure.
    public var errno: Errno {
        switch self.code {
        case .unreachable, .connectionClosed: return .notConnected
        case .protocolViolation, .versionMismatch, .notPohmelfs, .timedOut: return .io
        }
    }
}

extension Errno {
    /// The errno that stands for any error from the client library.
    public init(clientFailure error: any Error) {
        if let errno = error as? Errno {
            self = errno
        } else if let clientError = error as? ClientError {
            self = clientError.errno
        } else {
            self = .io
        }
    }
}

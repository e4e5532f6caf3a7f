/// Why the server could not start or keep serving: always a one-line message for the operator.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case exportMissing
        case exportNotDirectory
        case exportUnreadable
        case exportUnsupported
        case stateDirectory
        case badAddress
        case addressInUse
        case bindFailed
        /// A connection closed at accept (`--allow`, `--max-connections`).
        case refused
        /// A configuration the server will not run with (`--listen` off loopback without `--insecure`).
        case insecure
        /// The backing store cannot be used: the Ceph cluster is unreachable, refuses the
        /// credentials, or has no such filesystem.
        case backingStore
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String { self.message }
}

extension ServerError {
    /// Why a non-loopback `--listen` address is refused without TLS and authentication.
    public static func insecureListenMessage(_ listen: String) -> String {
        "refusing to listen on \(listen) without authentication: anyone who reaches the port could use the export as "
            + "any uid; use --tls-dir DIR (TLS with client certificates or a shared secret, generated on first use), "
            + "or pass --insecure to serve the network unauthenticated anyway"
    }
}

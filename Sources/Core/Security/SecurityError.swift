/// Why TLS or authentication could not be set up or did not succeed. The message is one line a
/// user can act on; `pohmelfs` prints it as is.
public struct SecurityError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// A certificate, key or secret file is missing, unreadable or malformed.
        case badMaterial
        /// A secret or private key file can be read by others than its owner.
        case insecurePermissions
        /// The server refused this client's credentials (or their absence).
        case authenticationFailed
        /// The server's certificate is not trusted or does not name the server.
        case untrustedServer
        /// The TLS handshake failed for another reason (no TLS on the other side, ...).
        case handshakeFailed
        /// Generating the certificates and keys failed.
        case generationFailed
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { self.message }
}

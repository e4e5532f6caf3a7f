import NIOCore

/// AUTH: the shared secret, sent before HELLO by a client of a server that authenticates with
/// one (`pohmelfs serve --auth secret`). Only ever sent inside TLS.
///
/// The server compares the secret in constant time and answers with an empty reply, or with
/// `EKEYREJECTED` and closes the connection. A server that requires a secret answers a HELLO
/// without a successful AUTH before it with `ENOKEY`. A server without TLS refuses AUTH with
/// `EKEYREJECTED`, so a secret is never accepted in the clear.
public struct AuthRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.auth
    /// The longest secret the protocol carries.
    public static let maximumSecret = 1024

    /// The secret's bytes as read from the client's secret file (without its trailing newline).
    public var secret: [UInt8]

    public init(secret: [UInt8]) { self.secret = secret }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWireBytes(self.secret) }
    public init(from buffer: inout ByteBuffer) throws {
        self.secret = try buffer.readWireBytes(maximum: Self.maximumSecret, field: "secret")
    }
}

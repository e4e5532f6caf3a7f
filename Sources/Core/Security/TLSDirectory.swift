/// The files of a TLS directory, the one thing a user names to secure a server or a client.
///
/// A server's directory (`pohmelfs serve --tls-dir DIR`, generated on first use):
///
/// | file | what |
/// |---|---|
/// | `ca.pem`, `ca-key.pem` | the certificate authority that signs the server and client certificates |
/// | `server.pem`, `server-key.pem` | the server's certificate (its names as subject alternative names) and key |
/// | `secret` | the shared secret of `--auth secret` |
/// | `client/` | the client bundle: copy it to each client |
///
/// A client's directory (`mount -o tls_dir=DIR`, `locks --tls-dir DIR`), the `client/` bundle:
/// `ca.pem` (which server certificates to trust; required), `client.pem` and `client-key.pem`
/// (presented when the server asks for a certificate), `secret` (sent in AUTH when present).
/// Keys and secrets are mode 0600 and refused otherwise.
public struct TLSDirectory: Sendable, Hashable {
    public let path: String

    public init(_ path: String) {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.path = path
    }

    public var caCertificate: String { self.path + "/ca.pem" }
    public var caKey: String { self.path + "/ca-key.pem" }
    public var serverCertificate: String { self.path + "/server.pem" }
    public var serverKey: String { self.path + "/server-key.pem" }
    public var clientCertificate: String { self.path + "/client.pem" }
    public var clientKey: String { self.path + "/client-key.pem" }
    public var secret: String { self.path + "/secret" }
    /// The client bundle inside a server's directory.
    public var clientBundle: TLSDirectory { TLSDirectory(self.path + "/client") }
}

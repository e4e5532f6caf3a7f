import NIOSSL

/// What `pohmelfs serve --tls-dir DIR [--auth MODE]` sets up: TLS on every connection, and how
/// clients prove they may use the export.
///
/// Either way no request of an unauthenticated client reaches the export, the lock table or
/// any other administrative request: with `.certificate` the TLS handshake itself fails, with
/// `.secret` nothing but AUTH and HELLO is read before AUTH succeeded (see
/// `ServerConnectionHandler`).
public struct ServerSecurity: Sendable {
    public enum Authentication: String, Sendable, CaseIterable {
        /// Mutual TLS: a client presents a certificate signed by the directory's CA.
        case certificate
        /// A client sends the directory's shared secret in AUTH, inside TLS, before HELLO.
        case secret
    }

    public let directory: TLSDirectory
    public let authentication: Authentication
    let context: NIOSSLContext
    /// The secret AUTH must present; nil with certificate authentication.
    let secret: SharedSecret?

    /// Loads the server's certificate and key, and the CA (certificate authentication) or the
    /// shared secret (secret authentication), from `directory`.
    public init(directory: TLSDirectory, authentication: Authentication) throws {
        self.directory = directory
        self.authentication = authentication
        let chain = try TLSMaterialLoader.certificates(directory.serverCertificate, what: "server certificate")
        let key = try TLSMaterialLoader.privateKey(directory.serverKey, what: "server key")
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // Both ends are pohmelfs: no reason to speak anything older.
        configuration.minimumTLSVersion = .tlsv13
        switch authentication {
        case .certificate:
            configuration.trustRoots = .certificates(
                try TLSMaterialLoader.certificates(directory.caCertificate, what: "CA certificate"))
            // A client certificate is required and must chain to the CA; client names are not checked.
            configuration.certificateVerification = .noHostnameVerification
            self.secret = nil
        case .secret:
            configuration.certificateVerification = .none
            self.secret = try SharedSecret(contentsOf: directory.secret)
        }
        self.context = try TLSMaterialLoader.context(configuration)
    }

    /// The handler that starts every accepted connection.
    func makeHandler() -> NIOSSLServerHandler { NIOSSLServerHandler(context: self.context) }
}

import Foundation
import NIOSSL

/// A client's TLS credentials (`mount -o tls_dir=DIR`, `locks --tls-dir DIR`): whom to trust,
/// and what to prove.
///
/// The server's certificate must chain to the directory's `ca.pem` and name the host the client
/// connects to (a DNS name, or an IP address as an iPAddress name). `client.pem` with
/// `client-key.pem` is presented when the server asks for a certificate; `secret` is sent in
/// AUTH. Either may be absent, not both.
public struct ClientSecurity: Sendable {
    public let directory: TLSDirectory
    let context: NIOSSLContext
    /// Sent in AUTH before HELLO when present.
    public let secret: SharedSecret?
    public let hasCertificate: Bool

    public init(directory: TLSDirectory) throws {
        self.directory = directory
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: directory.path) else {
            throw SecurityError(.badMaterial, "the TLS directory \(directory.path) does not exist")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.trustRoots = .certificates(
            try TLSMaterialLoader.certificates(directory.caCertificate, what: "CA certificate"))
        configuration.certificateVerification = .fullVerification
        let hasCertificate = fileManager.fileExists(atPath: directory.clientCertificate)
        if hasCertificate {
            configuration.certificateChain = try TLSMaterialLoader.certificates(
                directory.clientCertificate, what: "client certificate"
            ).map { .certificate($0) }
            configuration.privateKey = .privateKey(try TLSMaterialLoader.privateKey(directory.clientKey, what: "client key"))
        }
        self.hasCertificate = hasCertificate
        self.secret = fileManager.fileExists(atPath: directory.secret) ? try SharedSecret(contentsOf: directory.secret) : nil
        guard hasCertificate || self.secret != nil else {
            throw SecurityError(
                .badMaterial,
                "the TLS directory \(directory.path) has neither client.pem with client-key.pem nor a secret file: nothing to authenticate with")
        }
        self.context = try TLSMaterialLoader.context(configuration)
    }

    /// The handler that starts the connection to `host`: SNI and name check for a host name; for
    /// an IP address NIOSSL checks the certificate's iPAddress names against the peer address.
    func makeHandler(host: String) throws -> NIOSSLClientHandler {
        let isAddress = host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        do {
            return try NIOSSLClientHandler(context: self.context, serverHostname: isAddress ? nil : host)
        } catch {
            throw SecurityError(.badMaterial, "cannot use '\(host)' as a TLS server name: \(error)")
        }
    }
}

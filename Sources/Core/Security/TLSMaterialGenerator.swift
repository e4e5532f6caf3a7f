import Crypto
import Foundation
import SwiftASN1
import X509

/// Creates a server's TLS directory on first use: a private certificate authority, a server
/// certificate naming the server, a client certificate and a shared secret, all P-256/ECDSA.
///
/// Decisions: the CA is private to this one server (no system trust store is involved, so a
/// certificate from any other CA is refused); certificates are valid for ten years from an hour
/// ago (clock skew); one client certificate is shared by all clients (per-client certificates
/// can be issued with any CA tool from `ca-key.pem`). Keys and the secret are written 0600.
public enum TLSMaterialGenerator {
    /// The names the server certificate carries when the user gives none: loopback and this
    /// host's name.
    public static func defaultServerNames(hostName: String) -> [String] {
        var names = ["localhost", "127.0.0.1", "::1"]
        if !hostName.isEmpty, !names.contains(hostName) { names.append(hostName) }
        return names
    }

    /// Generates everything `directory` lacks when it holds no `ca.pem` yet; returns false and
    /// changes nothing when it does. `serverNames` are DNS names or IP addresses.
    @discardableResult
    public static func generateIfMissing(in directory: TLSDirectory, serverNames: [String]) throws -> Bool {
        if FileManager.default.fileExists(atPath: directory.caCertificate) { return false }
        for path in [directory.serverCertificate, directory.serverKey, directory.caKey, directory.secret]
        where FileManager.default.fileExists(atPath: path) {
            throw SecurityError(
                .badMaterial,
                "\(directory.path) holds \(path) but no ca.pem: remove the directory to generate it anew, or add ca.pem")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory.clientBundle.path, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            try self.generate(in: directory, serverNames: serverNames)
        } catch let error as SecurityError {
            throw error
        } catch {
            throw SecurityError(.generationFailed, "cannot generate TLS material in \(directory.path): \(error)")
        }
        return true
    }

    private static func generate(in directory: TLSDirectory, serverNames: [String]) throws {
        let now = Date()
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(10 * 365 * 86400)

        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("pohmelfs CA") }
        let caPublic = Certificate.PublicKey(caKey.publicKey)
        let caIdentifier = SubjectKeyIdentifier(hash: caPublic).keyIdentifier
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: caPublic, notValidBefore: notBefore,
            notValidAfter: notAfter, issuer: caName, subject: caName,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: caIdentifier)
            },
            issuerPrivateKey: .init(caKey))

        func leaf(_ commonName: String, usage: ExtendedKeyUsage.Usage, names: [GeneralName]) throws -> (
            Certificate, P256.Signing.PrivateKey
        ) {
            let key = P256.Signing.PrivateKey()
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notBefore,
                notValidAfter: notAfter, issuer: caName, subject: try DistinguishedName { CommonName(commonName) },
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([usage])
                    AuthorityKeyIdentifier(keyIdentifier: caIdentifier)
                    if !names.isEmpty { SubjectAlternativeNames(names) }
                },
                issuerPrivateKey: .init(caKey))
            return (certificate, key)
        }
        let (server, serverKey) = try leaf(
            serverNames.first ?? "pohmelfs server", usage: .serverAuth, names: serverNames.map(Self.generalName))
        let (client, clientKey) = try leaf("pohmelfs client", usage: .clientAuth, names: [])
        let secret = SharedSecret.random()

        let caPEM = Array(try ca.serializeAsPEM().pemString.utf8) + [0x0A]
        let bundle = directory.clientBundle
        // Public files 0644, keys and secret 0600; the CA key last, so a directory with ca.pem
        // but an interrupted generation is noticed on load (a file missing), not reused half-made.
        try PrivateFile.write(Array(try server.serializeAsPEM().pemString.utf8) + [0x0A], to: directory.serverCertificate, mode: 0o644)
        try PrivateFile.write(Array(serverKey.pemRepresentation.utf8) + [0x0A], to: directory.serverKey)
        try PrivateFile.write(secret.bytes + [0x0A], to: directory.secret)
        try PrivateFile.write(caPEM, to: bundle.caCertificate, mode: 0o644)
        try PrivateFile.write(Array(try client.serializeAsPEM().pemString.utf8) + [0x0A], to: bundle.clientCertificate, mode: 0o644)
        try PrivateFile.write(Array(clientKey.pemRepresentation.utf8) + [0x0A], to: bundle.clientKey)
        try PrivateFile.write(secret.bytes + [0x0A], to: bundle.secret)
        try PrivateFile.write(Array(caKey.pemRepresentation.utf8) + [0x0A], to: directory.caKey)
        try PrivateFile.write(caPEM, to: directory.caCertificate, mode: 0o644)
    }

    /// An IP address as an iPAddress name (what clients connecting by address check), anything
    /// else as a dNSName.
    static func generalName(_ name: String) -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v4) { ArraySlice($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            return .ipAddress(ASN1OctetString(contentBytes: withUnsafeBytes(of: &v6) { ArraySlice($0) }))
        }
        return .dnsName(name)
    }
}

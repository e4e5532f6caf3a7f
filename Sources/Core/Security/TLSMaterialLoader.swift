import Foundation
import NIOSSL

/// Reads certificates and keys for NIOSSL, turning its opaque failures into one-line messages
/// that name the file.
enum TLSMaterialLoader {
    static func certificates(_ path: String, what: String) throws -> [NIOSSLCertificate] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SecurityError(.badMaterial, "the \(what) \(path) does not exist")
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw SecurityError(.badMaterial, "the \(what) \(path) is not a PEM certificate: \(error)")
        }
        guard !certificates.isEmpty else { throw SecurityError(.badMaterial, "the \(what) \(path) holds no certificate") }
        return certificates
    }

    /// A private key, refused when others than its owner may read it.
    static func privateKey(_ path: String, what: String) throws -> NIOSSLPrivateKey {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SecurityError(.badMaterial, "the \(what) \(path) does not exist")
        }
        try PrivateFile.requireOwnerOnly(path, what: what)
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw SecurityError(.badMaterial, "the \(what) \(path) is not a PEM private key: \(error)")
        }
    }

    static func context(_ configuration: TLSConfiguration) throws -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw SecurityError(.badMaterial, "cannot set up TLS: \(error)")
        }
    }
}

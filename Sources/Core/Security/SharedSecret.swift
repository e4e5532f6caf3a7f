import Crypto
import Foundation

/// The shared secret of `--auth secret`: a file readable by its owner only, compared in
/// constant time.
///
/// The file holds the secret on one line (trailing whitespace is ignored); `TLSMaterialGenerator`
/// writes 32 random bytes as 64 hexadecimal digits.
public struct SharedSecret: Sendable, Hashable {
    /// The bytes sent in AUTH and compared by the server.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// A new random secret (256 bits, hexadecimal).
    public static func random() -> SharedSecret {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return SharedSecret(bytes: Array(hex.utf8))
    }

    /// Reads the secret at `path`. Refuses a file others can read or write (mode must be 0600 or
    /// stricter), an empty one and one longer than the protocol carries, each with a clear message.
    public init(contentsOf path: String) throws {
        try PrivateFile.requireOwnerOnly(path, what: "secret file")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError(.badMaterial, "cannot read the secret file \(path)")
        }
        var bytes = Array(data)
        while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 || last == 0x09 { bytes.removeLast() }
        guard !bytes.isEmpty else { throw SecurityError(.badMaterial, "the secret file \(path) is empty") }
        guard bytes.count <= AuthRequest.maximumSecret else {
            throw SecurityError(.badMaterial, "the secret in \(path) is longer than \(AuthRequest.maximumSecret) bytes")
        }
        self.bytes = bytes
    }

    /// Whether `presented` is this secret, in time that does not depend on where they differ:
    /// both are hashed (so their lengths do not leak either) and the digests compared byte by
    /// byte without an early exit.
    public func matches(_ presented: [UInt8]) -> Bool {
        let expected = SHA256.hash(data: self.bytes)
        let given = SHA256.hash(data: presented)
        var difference: UInt8 = 0
        for (a, b) in zip(expected, given) { difference |= a ^ b }
        return difference == 0
    }
}

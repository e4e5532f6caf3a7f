/// The server's name for a filesystem object: opaque to the client, stable across server
/// restarts, and authenticated by the server so a client cannot forge one.
///
/// The client only compares and stores handles; it never looks inside. Two lookups of the same
/// object (for example through two hard links) return equal handles, which is how the client
/// gives both names one node id.
public struct ObjectHandle: Hashable, Sendable, CustomStringConvertible {
    /// Upper bound on the encoded size; larger handles are a protocol error.
    public static let maximumSize = 160

    public var bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The bytes in one call: the synthesized hash feeds the hasher one byte at a time, which was
    /// a twentieth of the server's CPU (tables keyed by handles and names on every request).
    public func hash(into hasher: inout Hasher) {
        self.bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public var description: String {
        "handle:" + self.bytes.prefix(12).map { String($0, radix: 16) }.joined()
    }
}

/// One path component as raw bytes: Linux names are bytes, not necessarily UTF-8.
///
/// The wire carries any bytes (up to `ByteBuffer.wireMaximumName`); the server validates with
/// `validate()` before touching the filesystem, so a hostile name is answered with an errno.
public struct FileName: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// NAME_MAX on Linux.
    public static let maximumLength = 255

    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The bytes in one call: the synthesized hash feeds the hasher one byte at a time, which was
    /// a twentieth of the server's CPU (tables keyed by handles and names on every request).
    public func hash(into hasher: inout Hasher) {
        self.bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// Why a name cannot name a child of a directory, or nil when it can.
    ///
    /// Rejects the empty name, `.` and `..`, names containing `/` or NUL (EINVAL) and names
    /// longer than NAME_MAX (ENAMETOOLONG).
    public func validate() -> Errno? {
        if self.bytes.count > FileName.maximumLength { return .nameTooLong }
        if self.bytes.isEmpty || self.bytes == [0x2E] || self.bytes == [0x2E, 0x2E] { return .invalid }
        if self.bytes.contains(0x2F) || self.bytes.contains(0) { return .invalid }
        return nil
    }

    /// The name for logs: UTF-8 where it is, with replacement characters otherwise.
    public var description: String { String(decoding: self.bytes, as: UTF8.self) }
}

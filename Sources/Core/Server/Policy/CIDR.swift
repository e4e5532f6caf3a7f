import NIOCore

/// An address range written `ADDRESS/PREFIX` (`10.0.0.0/8`, `fd00::/8`) or a single address
/// (`192.0.2.7`, `::1`), for `serve --allow`.
///
/// IPv4 and IPv6 ranges are kept apart, except that an IPv4-mapped IPv6 peer (`::ffff:a.b.c.d`,
/// what a dual-stack socket reports for an IPv4 client) is matched against the IPv4 ranges as
/// the IPv4 address it is. Host bits below the prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`).
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The network address, 4 or 16 bytes, host bits cleared.
    public let network: [UInt8]
    /// Leading bits that must match: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    /// Parses `text`; nil when it is not an IPv4 or IPv6 address with an optional `/PREFIX`
    /// in range.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let bytes = Self.addressBytes(String(parts[0])) else {
            return nil
        }
        let maximum = bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
                parts[1].count <= 3, let parsed = Int(parts[1]), parsed <= maximum
            else { return nil }
            length = parsed
        }
        self.prefixLength = length
        self.network = Self.masked(bytes, to: length)
    }

    /// Whether `address` (4 or 16 bytes) lies in this range.
    public func contains(addressBytes address: [UInt8]) -> Bool {
        var candidate = address
        if self.network.count == 4, address.count == 16, address[0..<10].allSatisfy({ $0 == 0 }),
            address[10] == 0xFF, address[11] == 0xFF
        {
            candidate = Array(address[12..<16])
        }
        guard candidate.count == self.network.count else { return false }
        return Self.masked(candidate, to: self.prefixLength) == self.network
    }

    /// Whether the peer `address` lies in this range; never for a Unix-domain address.
    public func contains(_ address: SocketAddress) -> Bool {
        guard let bytes = Self.addressBytes(of: address) else { return false }
        return self.contains(addressBytes: bytes)
    }

    public var description: String {
        let address: String
        if self.network.count == 4 {
            address = self.network.map(String.init).joined(separator: ".")
        } else {
            address = stride(from: 0, to: 16, by: 2).map {
                String(UInt16(self.network[$0]) << 8 | UInt16(self.network[$0 + 1]), radix: 16)
            }.joined(separator: ":")
        }
        return "\(address)/\(self.prefixLength)"
    }

    /// The loopback ranges: 127.0.0.0/8 (also IPv4-mapped) and ::1.
    public static let loopback = [CIDR("127.0.0.0/8")!, CIDR("::1/128")!]

    /// Whether `address` is a loopback address, reachable from this machine only.
    public static func isLoopback(_ address: SocketAddress) -> Bool {
        Self.loopback.contains { $0.contains(address) }
    }

    /// The raw bytes of an IP socket address (network order), nil for anything else.
    static func addressBytes(of address: SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket:
            return nil
        }
    }

    /// Parses a numeric IPv4 or IPv6 address (no host names, no zone).
    static func addressBytes(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, !text.contains("%"),
            let address = try? SocketAddress(ipAddress: text, port: 0)
        else { return nil }
        return Self.addressBytes(of: address)
    }

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = min(max(length - index * 8, 0), 8)
            return keep == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
    }
}

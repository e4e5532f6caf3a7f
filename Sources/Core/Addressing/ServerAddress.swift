#if canImport(Glibc)
import Glibc
#endif

/// A server's host and port as users write them: `host`, `host:port`, `[v6]:port` or `[v6]`.
public struct ServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = ProtocolVersion.defaultPort) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; nil when the port is not a number in 1...65535 or the host is empty.
    public init?(parsing text: String, defaultPort: Int = ProtocolVersion.defaultPort) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if Self.bracketedSuggestion(for: String(host)) != nil {
            // `::1:17204`: an IPv6 address and a port without the brackets that tell them apart.
            return nil
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = String(host)
        self.port = port
    }

    public var description: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }

    /// For `::1:17204` (an IPv6 address, then what can only be a port, without brackets) the
    /// form the user meant, `[::1]:17204`; nil for anything else, a plain IPv6 address included.
    public static func bracketedSuggestion(for text: String) -> String? {
        guard !text.hasPrefix("["), text.filter({ $0 == ":" }).count >= 2, let colon = text.lastIndex(of: ":") else {
            return nil
        }
        let head = String(text[..<colon])
        let tail = text[text.index(after: colon)...]
        guard !tail.isEmpty, tail.allSatisfy(\.isASCII), tail.allSatisfy(\.isNumber), let port = Int(tail),
            (1...65535).contains(port), !Self.isIPv6(text), Self.isIPv6(head)
        else { return nil }
        return "[\(head)]:\(port)"
    }

    static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }
}

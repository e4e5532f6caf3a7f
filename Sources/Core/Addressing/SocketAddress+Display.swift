import NIOCore

extension SocketAddress {
    /// The address as users write it, for every message, log line and table: `127.0.0.1:2024`,
    /// `[::1]:7646`, or a Unix socket's path. (`description` is NIO's debugging form,
    /// `[IPv4]127.0.0.1/127.0.0.1:2024`, which no user should have to read.)
    public var displayForm: String {
        switch self {
        case .unixDomainSocket:
            return self.pathname ?? "unix socket"
        case .v6:
            guard let ip = self.ipAddress, let port = self.port else { return "\(self)" }
            return "[\(ip)]:\(port)"
        case .v4:
            guard let ip = self.ipAddress, let port = self.port else { return "\(self)" }
            return "\(ip):\(port)"
        }
    }
}

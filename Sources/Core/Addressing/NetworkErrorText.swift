import NIOCore
import NIOPosix

/// Networking failures in a person's words: "unknown host 'fileserver' (Name or service not
/// known)", "Connection refused (errno 111)", "connection timed out". NIO's own descriptions
/// (`SocketAddressError.UnknownHost: ... (error -2) for host ..., port ...`, `IOError`'s
/// function names) are for debugging and never reach a message.
public enum NetworkErrorText {
    public static func describe(_ error: any Error) -> String {
        switch error {
        case let unknown as SocketAddressError.UnknownHost:
            return "unknown host '\(unknown.host)' (\(unknown.errorDescription))"
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return Self.describe(first.error) }
            if let dns = error.dnsAError ?? error.dnsAAAAError { return Self.describe(dns) }
            return "unknown host '\(error.host)'"
        case let error as IOError:
            return Errno(error.errnoCode).description
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return "connection timed out"
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed: return "the connection closed"
            default: return "\(error)"
            }
        case let error as SocketAddressError:
            switch error {
            case .unsupported: return "unsupported address family"
            case .unixDomainSocketPathTooLong: return "Unix socket path too long"
            case .failedToParseIPString(let text): return "'\(text)' is not an IP address"
            default: return "\(error)"
            }
        default:
            return "\(error)"
        }
    }
}

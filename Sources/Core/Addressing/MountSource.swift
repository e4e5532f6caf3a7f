/// What `pohmelfs mount` mounts: `HOST[:PORT][,HOST[:PORT]...][:/SUBDIR]`, one export reached
/// through one server or several (the client uses one at a time and fails over to the next:
/// `FailoverPolicy`).
public struct MountSource: Hashable, Sendable, CustomStringConvertible {
    /// The servers of the export, in the order the client tries them; never empty.
    public var servers: [ServerAddress]
    /// Path components below the export root; empty for the root itself.
    public var subdirectory: [String]

    /// The first server named (the one a mount tries first).
    public var server: ServerAddress { self.servers[0] }

    public init(server: ServerAddress, subdirectory: [String] = []) {
        self.init(servers: [server], subdirectory: subdirectory)
    }

    public init(servers: [ServerAddress], subdirectory: [String] = []) {
        precondition(!servers.isEmpty, "a mount source names at least one server")
        self.servers = servers
        self.subdirectory = subdirectory
    }

    /// Parses `text`; nil when it is not valid (`parse` says why).
    public init?(parsing text: String) {
        guard case .success(let source) = Self.parse(text) else { return nil }
        self = source
    }

    /// Parses `host`, `host:port`, `host:/sub/dir`, `host:port:/sub/dir`, the bracketed IPv6
    /// forms, and comma-separated lists of servers before the subdirectory
    /// (`h1,h2:7700,[::1]:/sub`). A subdirectory always starts with `/` and follows the first
    /// `:/` (so it may itself hold commas); `.` and `..` components are refused, as are empty
    /// list elements and a server named twice. The error is a one-line message naming the bad part.
    public static func parse(_ text: String) -> Result<MountSource, MountSourceError> {
        var addressPart = Substring(text)
        var subdirectory: [String] = []
        if let range = text.range(of: ":/") {
            addressPart = text[..<range.lowerBound]
            subdirectory = text[text.index(after: range.lowerBound)...].split(separator: "/").map(String.init)
            if subdirectory.contains("..") || subdirectory.contains(".") {
                return .failure(MountSourceError("'\(text)': the subdirectory may not contain '.' or '..'"))
            }
        }
        let elements = addressPart.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let list = elements.count > 1
        var servers: [ServerAddress] = []
        for (index, element) in elements.enumerated() {
            let which = list ? "server \(index + 1) of \(elements.count)" : "the server"
            guard !element.isEmpty else {
                return .failure(
                    MountSourceError(
                        list
                            ? "'\(text)': \(which) is empty (servers are separated by single commas, as in h1,h2:7700:/sub)"
                            : "'\(text)' is not HOST[:PORT][,HOST[:PORT]...][:/SUBDIR]"))
            }
            guard let server = ServerAddress(parsing: element) else {
                if let meant = ServerAddress.bracketedSuggestion(for: element) {
                    // The whole source as the user meant it, this server bracketed.
                    var corrected = elements
                    corrected[index] = meant
                    let rest = text[addressPart.endIndex...]
                    let suggestion = corrected.joined(separator: ",") + rest
                    let what = list ? "'\(text)': \(which), '\(element)', is ambiguous" : "'\(text)' is ambiguous"
                    return .failure(
                        MountSourceError(
                            "\(what): write an IPv6 address with a port in brackets, as in \(suggestion)"))
                }
                return .failure(
                    MountSourceError(
                        "'\(text)': \(which), '\(element)', is not HOST, HOST:PORT or [IPv6]:PORT with a port in 1...65535"))
            }
            guard !servers.contains(server) else {
                return .failure(MountSourceError("'\(text)': \(server) is named twice"))
            }
            servers.append(server)
        }
        return .success(MountSource(servers: servers, subdirectory: subdirectory))
    }

    /// `h1:7646,h2:7700:/sub/dir`: every server, then the subdirectory.
    public var description: String {
        self.servers.map(\.description).joined(separator: ",") + ":/" + self.subdirectory.joined(separator: "/")
    }
}

/// Why a mount source does not parse, in one line for the user.
public struct MountSourceError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}

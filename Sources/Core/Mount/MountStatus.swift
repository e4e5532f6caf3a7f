import Foundation

/// What `pohmelfs status MOUNTPOINT` shows: one mount's server, session, options in force,
/// traffic and write-back backlog, as the mount process reports it on its status socket.
///
/// The JSON form (`status --json`) is this struct encoded with sorted keys and unescaped
/// slashes; times are ISO 8601. Fields:
/// `mountpoint`, `source` (HOST:PORT[,HOST:PORT...]:/SUBDIR), `server` (HOST:PORT in use), `pid`,
/// `connection` {`state`: connected | reconnecting | restoring | closed, `session`: INT,
/// `since`: TIME}, `options` {`cache`: strict | none, `writeback`: BOOL, `recovery`: hard | soft,
/// `softTimeoutSeconds`: NUMBER or null, `attrTimeoutSeconds`, `entryTimeoutSeconds`,
/// `negativeTimeoutSeconds`: NUMBER, `cacheSizeBytes`: INT, `readOnly`: BOOL, `tls`: BOOL},
/// `requests` {`inFlight`, `answered`, `reconnects`, `resent`: INT},
/// `writeback` {`dirtyBytes`, `cachedBytes`, `capacityBytes`, `streamedWrites`: INT} (all 0
/// without write-back; `streamedWrites`, the whole-transaction writes streamed since the mount,
/// is absent from an older client's answer).
public struct MountStatus: Codable, Sendable, Equatable {
    public struct Connection: Codable, Sendable, Equatable {
        public var state: ConnectionSnapshot.State
        public var session: UInt64
        public var since: Date
    }

    public struct Options: Codable, Sendable, Equatable {
        public var cache: String
        public var writeback: Bool
        public var recovery: String
        public var softTimeoutSeconds: Double?
        public var attrTimeoutSeconds: Double
        public var entryTimeoutSeconds: Double
        public var negativeTimeoutSeconds: Double
        public var cacheSizeBytes: Int
        public var readOnly: Bool
        public var tls: Bool

        public init(_ options: MountOptions) {
            self.cache = options.cache.rawValue
            self.writeback = options.cache == .strict && options.writeback
            self.recovery = options.soft ? "soft" : "hard"
            self.softTimeoutSeconds = options.soft ? options.timeout : nil
            self.attrTimeoutSeconds = options.attributeTimeout
            self.entryTimeoutSeconds = options.entryTimeout
            self.negativeTimeoutSeconds = options.negativeTimeout
            self.cacheSizeBytes = options.cacheSize
            self.readOnly = options.readOnly
            self.tls = options.tlsDirectory != nil
        }

        /// `cache=strict,writeback=on,hard,...` as one would write them after `-o`.
        public var asMountOptions: String {
            var parts = ["cache=\(self.cache)", "writeback=\(self.writeback ? "on" : "off")", self.recovery]
            if let timeout = self.softTimeoutSeconds { parts.append("timeout=\(Self.number(timeout))") }
            parts += [
                "attr_timeout=\(Self.number(self.attrTimeoutSeconds))",
                "entry_timeout=\(Self.number(self.entryTimeoutSeconds))",
                "negative_timeout=\(Self.number(self.negativeTimeoutSeconds))",
                "cache_size=\(Self.size(self.cacheSizeBytes))",
            ]
            if self.readOnly { parts.append("ro") }
            if self.tls { parts.append("tls") }
            return parts.joined(separator: ",")
        }

        /// `256M`, `1G`, `1536K`, as `-o cache_size=` takes it.
        private static func size(_ bytes: Int) -> String {
            for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] where bytes % (1 << shift) == 0 {
                return "\(bytes >> shift)\(unit)"
            }
            return String(bytes)
        }

        private static func number(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
    }

    public struct Requests: Codable, Sendable, Equatable {
        public var inFlight: Int
        public var answered: UInt64
        public var reconnects: Int
        public var resent: Int
    }

    public struct Writeback: Codable, Sendable, Equatable {
        public var dirtyBytes: Int
        public var cachedBytes: Int
        public var capacityBytes: Int
        public var streamedWrites: UInt64?
    }

    public var mountpoint: String
    public var source: String
    public var server: String
    public var pid: Int32
    public var connection: Connection
    public var options: Options
    public var requests: Requests
    public var writeback: Writeback

    public init(
        mountpoint: String, source: MountSource, pid: Int32, client: RPCClient, options: MountOptions,
        writeback: WritebackBuffer?
    ) {
        self.mountpoint = mountpoint
        self.source = source.description
        self.server = client.serverInUse
        self.pid = pid
        let connection = client.connection
        self.connection = Connection(state: connection.state, session: connection.session.rawValue, since: connection.since)
        self.options = Options(options)
        self.requests = Requests(
            inFlight: client.statistics.inFlight.load(ordering: .relaxed),
            answered: client.statistics.completed.load(ordering: .relaxed), reconnects: client.reconnects,
            resent: client.resent)
        let usage = writeback?.usage ?? (used: 0, dirty: 0, capacity: 0)
        self.writeback = Writeback(
            dirtyBytes: usage.dirty, cachedBytes: usage.used, capacityBytes: usage.capacity,
            streamedWrites: writeback?.streamedWrites ?? 0)
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    public static func decode(_ text: String) throws -> MountStatus {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(MountStatus.self, from: Data(text.utf8))
    }

    /// Where the mount on device `device` (the mountpoint's `st_dev`) serves its status:
    /// `/run/pohmelfs/mounts/MAJOR:MINOR.sock`, or under `$XDG_RUNTIME_DIR/pohmelfs/mounts/` for a
    /// user who cannot write /run/pohmelfs. `POHMELFS_RUN_DIR` replaces the `/run/pohmelfs` part.
    public static func socketPaths(device: UInt64) -> [String] {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        let name = "mounts/\(major):\(minor).sock"
        let environment = ProcessInfo.processInfo.environment
        var directories = [environment["POHMELFS_RUN_DIR"] ?? "/run/pohmelfs"]
        if let runtime = environment["XDG_RUNTIME_DIR"] { directories.append(runtime + "/pohmelfs") }
        return directories.map { "\($0)/\(name)" }
    }
}

/// The `-o` options of `pohmelfs mount`, parsed and validated.
///
/// Options the kernel or libfuse handle (`allow_other`, `default_permissions`, `ro`, `fsname`,
/// `nosuid`, ...) are collected in `kernelOptions` and passed to libfuse. Options that only mean
/// something to mount(8), fstab or systemd (`_netdev`, `nofail`, `noauto`, `auto`, `user`,
/// `users`, `x-systemd.*`, `comment=*`, `defaults`) are accepted and ignored, as the FUSE
/// helpers do. Anything else is an error naming the option.
public struct MountOptions: Sendable, Equatable {
    public enum CacheMode: String, Sendable {
        /// Kernel page cache kept across opens while the server says it is valid, invalidated by
        /// the server before any other client's write is acknowledged; writes buffered while the
        /// file's write-back grant is held (unless `writeback=off`).
        case strict
        /// Direct I/O: no client data cache at all; every read and write is one request.
        case none
    }

    public var attributeTimeout: Double = 1
    public var entryTimeout: Double = 1
    public var negativeTimeout: Double = 1
    /// Leases on names and attributes (`-o leases=on|off`): while the server says nothing
    /// changed, the kernel keeps entries and attributes for `leaseTimeout` seconds; the three
    /// timeouts above then apply only to replies the server grants no lease on (a server
    /// without leases, `READDIRPLUS` entries). Off: the timeouts above apply to everything.
    public var leases = true
    /// How long the kernel may keep a leased entry or attributes (`-o lease_timeout=`).
    public var leaseTimeout: Double = 3600
    /// Delegated directories (`-o delegation=on|off`, default off): the directories this mount
    /// makes are its own until another mount touches them; creates and removes there are
    /// answered locally and written back in order (ConsistencyContract "Delegated directories").
    public var delegation = false
    public var cache: CacheMode = .strict
    /// The bound on the client's own page cache (buffered writes), `-o cache_size=` with K, M, G.
    public var cacheSize = Self.defaultCacheSize
    /// 256 MiB: room for a few hundred transactions of buffered writes, small next to the RAM
    /// of any machine that mounts a network filesystem.
    public static let defaultCacheSize = 256 << 20
    /// The smallest `cache_size`: one transaction of the minimum size.
    public static let minimumCacheSize = 1 << 20
    /// Buffer writes while holding the file's write-back grant (`-o writeback=on|off`).
    public var writeback = true
    public var readOnly = false
    public var fsname: String?
    /// `soft`: a request the server leaves unanswered for `timeout` seconds (while it is
    /// unreachable) fails with EIO. `hard` (the default): requests wait for the server for
    /// ever; a signal still interrupts the waiting call.
    public var soft = false
    public var timeout: Double = 30
    /// `tls_dir=DIR`: connect with TLS and authenticate with the client bundle in DIR.
    public var tlsDirectory: String?
    /// Passed to libfuse as `-o` options.
    public var kernelOptions: [String] = []

    public init() {}

    static let kernelFlags: Set<String> = [
        "allow_other", "allow_root", "default_permissions", "ro", "rw", "nosuid", "suid", "nodev", "dev",
        "noexec", "exec", "sync", "async", "dirsync", "atime", "noatime", "relatime", "norelatime",
        "strictatime", "nostrictatime", "auto_unmount",
    ]
    static let ignoredFlags: Set<String> = [
        "_netdev", "nofail", "noauto", "auto", "user", "users", "nouser", "owner", "group", "defaults", "bg", "fg",
    ]

    /// Parses a comma-separated option string (several `-o` values may be joined with commas).
    public init(parsing text: String) throws {
        self.init()
        var timeoutOption: String?
        for option in text.split(separator: ",").map(String.init) where !option.isEmpty {
            try self.apply(option)
            if option.hasPrefix("timeout=") { timeoutOption = option }
        }
        // A timeout that would silently do nothing is a mistake the user should hear about.
        if let timeoutOption, !self.soft {
            throw MountOptionError(
                option: timeoutOption,
                reason: "'\(timeoutOption)' applies only to soft mounts: add soft (soft,\(timeoutOption)), or drop it")
        }
    }

    private mutating func apply(_ option: String) throws {
        let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
        let key = parts[0]
        let value = parts.count > 1 ? parts[1] : nil
        if Self.ignoredFlags.contains(key) || key.hasPrefix("x-systemd.") || key.hasPrefix("x-") || key == "comment" {
            return
        }
        if Self.kernelFlags.contains(key) && value == nil {
            if key == "ro" { self.readOnly = true }
            if key == "rw" { self.readOnly = false }
            self.kernelOptions.append(key)
            return
        }
        switch key {
        case "attr_timeout": self.attributeTimeout = try Self.seconds(option, value)
        case "entry_timeout": self.entryTimeout = try Self.seconds(option, value)
        case "negative_timeout": self.negativeTimeout = try Self.seconds(option, value)
        case "fsname":
            guard let value, !value.isEmpty, !value.contains(",") else { throw MountOptionError(option: option) }
            self.fsname = value
        case "hard" where value == nil: self.soft = false
        case "soft" where value == nil: self.soft = true
        case "timeout":
            let seconds = try Self.seconds(option, value)
            guard seconds > 0 else { throw MountOptionError(option: option) }
            self.timeout = seconds
        case "tls_dir":
            guard let value, !value.isEmpty else { throw MountOptionError(option: option) }
            self.tlsDirectory = value
        case "subtype":
            // The type is always fuse.pohmelfs; mount.fuse3 passes subtype along, accept it.
            return
        case "cache":
            guard let value, let mode = CacheMode(rawValue: value) else { throw MountOptionError(option: option) }
            self.cache = mode
        case "cache_size":
            guard let value, let size = ByteCount(parsing: value), size.bytes >= Self.minimumCacheSize else {
                throw MountOptionError(option: option)
            }
            self.cacheSize = size.bytes
        case "leases":
            switch value {
            case "on": self.leases = true
            case "off": self.leases = false
            default: throw MountOptionError(option: option)
            }
        case "lease_timeout": self.leaseTimeout = try Self.seconds(option, value)
        case "delegation":
            switch value {
            case "on": self.delegation = true
            case "off": self.delegation = false
            default: throw MountOptionError(option: option)
            }
        case "writeback":
            switch value {
            case "on": self.writeback = true
            case "off": self.writeback = false
            default: throw MountOptionError(option: option)
            }
        default:
            throw MountOptionError(option: option)
        }
    }

    private static func seconds(_ option: String, _ value: String?) throws -> Double {
        guard let value, let seconds = Double(value), seconds >= 0, seconds.isFinite else {
            throw MountOptionError(option: option)
        }
        return seconds
    }
}

/// An option `pohmelfs mount` does not understand.
public struct MountOptionError: Error, CustomStringConvertible, Equatable {
    public var option: String
    /// Why the option is refused, when "unknown or malformed" would not say.
    public var reason: String?

    public init(option: String, reason: String? = nil) {
        self.option = option
        self.reason = reason
    }

    public var description: String { self.reason ?? "unknown or malformed mount option '\(self.option)'" }
}

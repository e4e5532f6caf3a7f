import ArgumentParser
import Logging
import PohmelfsCore

/// `pohmelfs mount`: mount an export with FUSE.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount a pohmelfs export.",
        discussion: """
            Returns once the filesystem is mounted (or with a one-line error and exit status 1); \
            the client keeps running in the background until unmounted (fusermount3 -u MOUNTPOINT) \
            or sent SIGTERM. With -f it stays in the foreground. Options (-o, comma-separated): \
            allow_other, default_permissions, ro, rw, fsname=NAME, attr_timeout=S, entry_timeout=S, \
            negative_timeout=S (all default 1 s), leases=on|off (default on: while the server \
            holds a lease for this mount on a name or an object's attributes, the kernel keeps them \
            for lease_timeout=S, default 3600, and the server makes it forget them before any other \
            mount's change returns; the three timeouts then apply only to what is not leased, and \
            to everything with leases=off or a server without leases), cache=strict|none, cache_size=SIZE (the client's \
            write-back buffer, K/M/G suffixes, default 256M), writeback=on|off (default on: small \
            writes are buffered while the server grants it), delegation=on|off (default off: \
            the directories this mount makes are its own until another mount touches them; creates \
            and removes there return at once and reach the server in order, a failure is reported \
            at fsync or close), hard (the default: requests wait \
            for the server, reconnecting, for ever; a signal still interrupts a waiting call), soft \
            and timeout=S (soft: EIO after S seconds, default 30, without the server), tls_dir=DIR \
            (TLS, authenticating with the client bundle a server started with --tls-dir generated), \
            and the usual nosuid, nodev, noexec, noatime; fstab's _netdev, nofail, noauto, \
            x-systemd.* are accepted and ignored. \
            A source naming several servers of one export (h1,h2:7700,[::1]:/SUBDIR) mounts through \
            the first that answers; when that server dies or is stopped the client moves to the next, \
            reopens its files, reclaims its locks and resends what was unanswered ("server A lost; \
            moved to B" in the log). The servers must share their handle key (serve --handle-key FILE).
            """
    )

    @Argument(
        help: .init(
            "HOST[:PORT][:/SUBDIR] of the server (default port \(ProtocolVersion.defaultPort)); several servers of one export are separated by commas.",
            valueName: "source"),
        completion: .shellCommand("awk '$3 == \"fuse.pohmelfs\" { print $1 }' /etc/fstab 2>/dev/null"))
    var source: String

    @Argument(
        help: "The directory to mount on; what it holds is hidden while mounted, as with any mount.",
        completion: .directory)
    var mountpoint: String

    @Option(
        name: .customShort("o"),
        help: .init("Mount options, comma-separated; may be repeated.", valueName: "options"),
        completion: .custom { _, _, prefix in MountOptionCompletion.candidates(prefix: prefix) })
    var options: [String] = []

    @Flag(name: .customShort("f"), help: "Stay in the foreground.")
    var foreground = false

    @Option(name: .long, help: "Seconds between STATUS= updates to systemd (requests in flight and served).")
    var statusInterval: Double = 5

    @OptionGroup var logging: LoggingOptions

    /// A bad value is a usage error: one line naming it, exit status 2 (`UsageError`).
    func validate() throws {
        guard self.statusInterval >= 0.05 else { throw ValidationError("--status-interval must be at least 0.05 seconds") }
        if case .failure(let error) = MountSource.parse(self.source) { throw ValidationError(error.message) }
        do {
            _ = try MountOptions(parsing: self.options.joined(separator: ","))
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        if !self.foreground {
            let status = Daemon.spawnAndWait(arguments: Array(CommandLine.arguments.dropFirst()))
            if status != 0 { throw ExitCode(status) }
            return
        }
        let reporter = ReadinessReporter()
        let logger: Logger
        do {
            logger = try self.logging.makeLogger(label: "pohmelfs.mount", detached: reporter.isDaemon)
        } catch {
            reporter.failed("\(error)")
            throw fail("mount", "\(error)")
        }
        var runner = MountRunner(
            source: MountSource(parsing: self.source)!,
            mountpoint: self.mountpoint,
            options: try MountOptions(parsing: self.options.joined(separator: ",")),
            logger: logger,
            reporter: reporter)
        runner.statusInterval = .milliseconds(Int64(self.statusInterval * 1000))
        do {
            try await runner.run()
        } catch {
            reporter.failed("\(error)")
            throw fail("mount", "\(error)")
        }
    }
}

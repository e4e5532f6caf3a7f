import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import PohmelfsCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `pohmelfs serve`: export a directory over TCP.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Export a directory to pohmelfs clients.",
        discussion: """
            Listens on 127.0.0.1:\(ProtocolVersion.defaultPort) unless --listen says otherwise. \
            Sends READY=1 to systemd once listening and finishes requests in flight on SIGTERM or SIGINT. \
            With --metrics HOST[:PORT] (default port \(MetricsEndpoint.defaultPort)) it also serves Prometheus \
            metrics over HTTP at http://HOST:PORT/metrics: requests, errors and latency by opcode, bytes read \
            and written, connected clients, locks held and waiting, invalidations sent. \
            With --tls-dir DIR every connection is TLS and clients must authenticate: with a client \
            certificate signed by DIR/ca.pem (--auth certificate, the default) or with the shared secret \
            in DIR/secret (--auth secret). On first use the server generates DIR: a CA, a server certificate \
            for the --tls-name names (default: localhost, 127.0.0.1, ::1 and this host's name), and the client \
            bundle DIR/client (CA, client certificate and key, secret) to copy to each client, which mounts \
            with -o tls_dir=BUNDLE. Without --tls-dir clients are not authenticated: whoever reaches the port \
            can use the export as any uid, so the server listens on loopback only and refuses a --listen \
            address off loopback unless --insecure is given. \
            Squashing (--root-squash, --all-squash) is off by default; --allow admits every peer \
            unless given. Several servers of one export (for clients that fail over, mounting \
            h1,h2:/) share one --handle-key FILE and each keeps its own --state-dir.
            """
    )

    @Option(name: .long, help: "The directory to export (with --store cephfs: a path inside the CephFS, like /SUBDIR).", completion: .directory)
    var export: String

    @Option(name: .long, help: ArgumentHelp("Where the export lives: local (a directory on this machine) or cephfs (a CephFS, through libcephfs; several servers may export one).", valueName: "store"), completion: .list(["local", "cephfs"]))
    var store: String = "local"

    @Option(name: .customLong("ceph-conf"), help: ArgumentHelp("With --store cephfs: the ceph.conf naming the monitors (default: libcephfs's search, /etc/ceph/ceph.conf).", valueName: "file"), completion: .file())
    var cephConf: String?

    @Option(name: .customLong("ceph-id"), help: ArgumentHelp("With --store cephfs: the cephx user, without 'client.'.", valueName: "name"))
    var cephID: String = "admin"

    @Option(name: .customLong("ceph-fs"), help: ArgumentHelp("With --store cephfs: the CephFS to mount (default: the cluster's default filesystem).", valueName: "name"))
    var cephFS: String?

    @Option(name: .customLong("ceph-timeout"), help: ArgumentHelp("With --store cephfs: seconds to wait for the cluster before giving up.", valueName: "seconds"))
    var cephTimeout: Int = 15

    @Option(name: .customLong("gateway-id"), help: ArgumentHelp("With --store cephfs: this server's stable name among the servers of the CephFS (1-64 of A-Z a-z 0-9 . _ -). Its CephFS session is then reset by the others when it dies, and by itself when it restarts, bounding a failover's stall.", valueName: "name"))
    var gatewayID: String?

    @Option(name: .long, help: "Address to listen on: HOST, HOST:PORT or [IPv6]:PORT.")
    var listen: String = "127.0.0.1:\(ProtocolVersion.defaultPort)"

    @Flag(name: .long, help: "Allow a --listen address other than loopback without --tls-dir, although clients are then not authenticated.")
    var insecure = false

    @Option(name: .long, help: ArgumentHelp("Serve TLS with the certificates, keys and secret in this directory, generated on first use; clients must authenticate.", valueName: "dir"), completion: .directory)
    var tlsDir: String?

    @Option(name: .long, help: ArgumentHelp("How clients authenticate with --tls-dir: certificate (mutual TLS) or secret (the shared secret in DIR/secret).", valueName: "mode"), completion: .list(["certificate", "secret"]))
    var auth: String = ServerSecurity.Authentication.certificate.rawValue

    @Option(name: .long, help: ArgumentHelp("A DNS name or IP address the generated server certificate is valid for (repeatable; default: localhost, 127.0.0.1, ::1 and this host's name).", valueName: "name"))
    var tlsName: [String] = []

    @Flag(name: .long, help: "Refuse every change to the export with EROFS.")
    var readOnly = false

    @Option(name: .long, help: ArgumentHelp("Admit only peers in this range (repeatable; IPv4 or IPv6). Default: every peer.", valueName: "CIDR"))
    var allow: [String] = []

    @Flag(name: .long, help: "Map uid 0 and gid 0 of callers to --anonuid/--anongid (off by default).")
    var rootSquash = false

    @Flag(name: .long, help: "Map every caller to --anonuid/--anongid (off by default).")
    var allSquash = false

    @Option(name: .long, help: "The uid squashed callers act as.")
    var anonuid: UInt32 = ExportPolicy.defaultAnonymousID

    @Option(name: .long, help: "The gid squashed callers act as.")
    var anongid: UInt32 = ExportPolicy.defaultAnonymousID

    @Option(name: .long, help: "Connections served at once; more are closed at accept.")
    var maxConnections: Int = 256

    @Option(name: .long, help: "Requests of one client performed at once; beyond it the server stops reading from that client until replies drain.")
    var maxInFlight: Int = 256

    @Option(name: .long, help: "Seconds a new client has to finish the HELLO handshake.")
    var helloTimeout: Double = 10

    @Option(name: .long, help: "Seconds a client may leave a request half-sent before it is dropped.")
    var stallTimeout: Double = 30

    @Option(name: .long, help: "Where the server keeps its handle key and lock-reclaim marker; one running server per directory (default: /var/lib/pohmelfs as root, else ~/.local/state/pohmelfs).", completion: .directory)
    var stateDir: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The handle key shared by every server of this export, so that clients can fail over between them (created, race-free, by the first server that starts; default: DIR/handle-key of --state-dir).",
            valueName: "file"),
        completion: .file())
    var handleKey: String?

    @Option(name: .long, help: "Threads doing file I/O.")
    var ioThreads: Int = 8

    @Option(name: .long, help: "Seconds a disconnected client's POSIX and flock locks are kept before they are released.")
    var lockLease: Double = 10

    @Option(name: .long, help: "Seconds after a restart in which clients reclaim the locks they held and other lock requests wait (0: none). Only after a run that may have left locks behind.")
    var gracePeriod: Double = 5

    /// Test-only: READ and WRITE without transaction locks, to prove the torn-read checker fails.
    @Flag(name: .long, help: .private)
    var unsafeNoTransactionLocks = false

    /// Test-only: acknowledge changes without invalidating other clients' caches, to prove the
    /// read-after-write checker fails.
    @Flag(name: .long, help: .private)
    var unsafeNoInvalidation = false

    /// Test-only: perform the first request of each named opcode (RENAME,WRITE,CREATE...) but
    /// drop its reply and close the connection, so the client resends it (exactly-once test).
    @Option(name: .long, help: .private)
    var testDropReplyOnce: String?

    /// Test-only: hold back every LEASE_BREAK or INVALIDATE a change waits for by this many milliseconds, so a
    /// second change of the object overlaps the first one's break round.
    @Option(name: .long, help: .private)
    var testDelayLeaseBreak: Int = 0

    /// Test-only: start every WRITE this many milliseconds late, so later requests overtake it.
    @Option(name: .long, help: .private)
    var testDelayWrites: Int = 0

    @Option(
        name: .long,
        help: .init(
            "Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics.", valueName: "host[:port]"))
    var metrics: String?

    @Option(name: .long, help: "Seconds between STATUS= updates to systemd (live figures).")
    var statusInterval: Double = 5

    @OptionGroup var logging: LoggingOptions

    /// A bad value is a usage error: one line naming it, exit status 2 (`UsageError`).
    func validate() throws {
        guard self.store == "local" || self.store == "cephfs" else {
            throw ValidationError("--store '\(self.store)' is not local or cephfs")
        }
        if self.store != "cephfs", self.cephConf != nil || self.cephFS != nil || self.cephID != "admin" {
            throw ValidationError("--ceph-conf, --ceph-id and --ceph-fs need --store cephfs")
        }
        if let gateway = self.gatewayID {
            guard self.store == "cephfs" else { throw ValidationError("--gateway-id needs --store cephfs") }
            guard CephConfiguration.isValidGatewayID(gateway) else {
                throw ValidationError("--gateway-id '\(gateway)' is not 1-64 of A-Z a-z 0-9 . _ -")
            }
        }
        guard (1...3600).contains(self.cephTimeout) else { throw ValidationError("--ceph-timeout must be 1...3600 seconds") }
        guard ServerAddress(parsing: self.listen) != nil else {
            throw ValidationError("--listen '\(self.listen)' is not HOST, HOST:PORT or [IPv6]:PORT with a port in 1...65535")
        }
        if let metrics = self.metrics, self.metricsAddress == nil {
            throw ValidationError("--metrics '\(metrics)' is not HOST, HOST:PORT or [IPv6]:PORT with a port in 1...65535")
        }
        let address = ServerAddress(parsing: self.listen)!
        guard ServerSecurity.Authentication(rawValue: self.auth) != nil else {
            throw ValidationError("--auth '\(self.auth)' is not certificate or secret")
        }
        if self.tlsDir == nil, self.auth != ServerSecurity.Authentication.certificate.rawValue || !self.tlsName.isEmpty {
            throw ValidationError("--auth and --tls-name need --tls-dir DIR")
        }
        if !self.insecure, self.tlsDir == nil, let resolved = try? SocketAddress.makeAddressResolvingHost(address.host, port: address.port),
            !CIDR.isLoopback(resolved)
        {
            throw ValidationError(ServerError.insecureListenMessage(self.listen))
        }
        for range in self.allow where CIDR(range) == nil {
            throw ValidationError("--allow '\(range)' is not an IPv4 or IPv6 ADDRESS[/PREFIX]")
        }
        guard !(self.rootSquash && self.allSquash) else {
            throw ValidationError("--root-squash and --all-squash exclude each other")
        }
        guard (1...65536).contains(self.maxConnections) else { throw ValidationError("--max-connections must be 1...65536") }
        guard (1...65536).contains(self.maxInFlight) else { throw ValidationError("--max-in-flight must be 1...65536") }
        guard self.helloTimeout >= 0.01, self.helloTimeout <= 3600 else {
            throw ValidationError("--hello-timeout must be 0.01...3600 seconds")
        }
        guard self.stallTimeout >= 0.01, self.stallTimeout <= 3600 else {
            throw ValidationError("--stall-timeout must be 0.01...3600 seconds")
        }
        guard (1...256).contains(self.ioThreads) else { throw ValidationError("--io-threads must be 1...256") }
        guard self.statusInterval >= 0.05 else { throw ValidationError("--status-interval must be at least 0.05 seconds") }
        guard self.lockLease >= 0, self.lockLease <= 86400 else {
            throw ValidationError("--lock-lease must be 0...86400 seconds")
        }
        guard self.gracePeriod >= 0, self.gracePeriod <= 3600 else {
            throw ValidationError("--grace-period must be 0...3600 seconds")
        }
        if let list = self.testDropReplyOnce, case .failure(let error) = FaultInjection.opcodes(named: list) {
            throw ValidationError("--test-drop-reply-once: \(error)")
        }
        guard (0...4000).contains(self.testDelayLeaseBreak) else {
            throw ValidationError("--test-delay-lease-break must be 0...4000 milliseconds")
        }
        guard (0...4000).contains(self.testDelayWrites) else {
            throw ValidationError("--test-delay-writes must be 0...4000 milliseconds")
        }
    }

    func run() async throws {
        EarlySignals.hold()
        let logger: Logger
        do {
            logger = try self.logging.makeLogger(label: "pohmelfs.serve")
        } catch {
            throw fail("serve", "\(error)")
        }
        if self.store == "cephfs" {
            let store: CephFSStore
            let cephConfiguration = CephConfiguration(
                configurationFile: self.cephConf, id: self.cephID, filesystem: self.cephFS,
                connectTimeout: self.cephTimeout, gatewayID: self.gatewayID)
            do {
                store = try CephFSStore(configuration: cephConfiguration, export: self.export)
            } catch {
                throw fail("serve", "\(error)")
            }
            // The session ends with the server, not when the MDS gives up on it.
            defer { store.unmount() }
            var peers: CephGatewayPeers?
            defer { peers?.stop() }
            try await self.serve(store, logger: logger) { address in
                guard self.gatewayID != nil else { return }
                peers = CephGatewayPeers(
                    store: store, configuration: cephConfiguration, address: Self.reachable(address), logger: logger)
            }
        } else {
            let store: LocalDirectoryStore
            let stateLock: StateDirectoryLock
            do {
                stateLock = try StateDirectoryLock(directory: self.stateDirectory)
                let key = try self.handleKey.map { try HandleKey.loadOrCreate(from: HandleKeyFile(path: $0)) }
                store = try LocalDirectoryStore(export: self.export, stateDirectory: self.stateDirectory, handleKey: key)
            } catch {
                throw fail("serve", "\(error)")
            }
            // The lock is held (one server per state directory) until the server has stopped.
            defer { withExtendedLifetime(stateLock) {} }
            try await self.serve(store, logger: logger)
        }
    }

    /// Serves `store` until SIGTERM or SIGINT.
    /// `listening` runs once the server listens on `address`.
    private func serve<Store: BackingStore>(
        _ store: Store, logger: Logger, listening: (ServerAddress) -> Void = { _ in }
    ) async throws {
        let address = ServerAddress(parsing: self.listen)!
        var configuration: PohmelfsServer<Store>.Configuration = self.configuration(address)
        if let tlsDir = self.tlsDir {
            configuration.security = try self.loadSecurity(TLSDirectory(tlsDir), listenHost: address.host, logger: logger)
        }
        let marker = ReclaimMarker(stateDirectory: self.stateDirectory)
        if marker.begin() {
            configuration.gracePeriod = .milliseconds(Int64(self.gracePeriod * 1000))
        }
        // The metrics listener first: a port in use is then reported before anything else started.
        var endpoint: MetricsEndpoint?
        if let metricsAddress = self.metricsAddress {
            let metrics = ServerMetrics()
            configuration.metrics = metrics
            do {
                endpoint = try await MetricsEndpoint.start(
                    host: metricsAddress.host, port: metricsAddress.port, metrics: metrics,
                    group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            } catch {
                throw fail("serve", "--metrics: \(error)")
            }
        }
        let server: PohmelfsServer<Store>
        do {
            server = try await PohmelfsServer.start(
                store: store,
                configuration: configuration,
                group: MultiThreadedEventLoopGroup.singleton,
                logger: logger)
        } catch {
            await endpoint?.close()
            throw fail("serve", "\(error)")
        }
        logger.info("exporting", metadata: [LogKey.export: "\(self.export)"])
        listening(address)
        if self.insecure && self.tlsDir == nil {
            logger.warning("--insecure: clients are not authenticated; anyone who reaches the port can use the export")
        }
        let service = ServerService(
            server: server, notifier: SystemdNotifier(), logger: logger,
            statusInterval: .milliseconds(Int64(self.statusInterval * 1000)))
        // Graceful shutdown runs in reverse order: the server drains first, the metrics
        // listener closes last.
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: EarlySignalReplay())] + (endpoint.map { [.init(service: $0)] } ?? []) + [.init(service: service)]
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        marker.end(locksHeld: server.holdsClientLocks)
    }

    /// `address` as peers reach it: a wildcard host becomes this machine's host name.
    private static func reachable(_ address: ServerAddress) -> ServerAddress {
        guard ["0.0.0.0", "::", ""].contains(address.host) else { return address }
        var hostName = [CChar](repeating: 0, count: 256)
        gethostname(&hostName, hostName.count - 1)
        var reachable = address
        reachable.host = String(cString: hostName)
        return reachable
    }

    private func configuration<Store: BackingStore>(_ address: ServerAddress) -> PohmelfsServer<Store>.Configuration {
        var configuration = PohmelfsServer<Store>.Configuration(
            host: address.host, port: address.port, ioThreads: self.ioThreads)
        configuration.lockLease = .milliseconds(Int64(self.lockLease * 1000))
        configuration.transactionLocking = !self.unsafeNoTransactionLocks
        configuration.invalidation = !self.unsafeNoInvalidation
        configuration.insecure = self.insecure
        var dropped: Set<Opcode> = []
        if let list = self.testDropReplyOnce, case .success(let opcodes) = FaultInjection.opcodes(named: list) {
            dropped = opcodes
        }
        configuration.faults = FaultInjection(
            dropReplyOnce: dropped, leaseBreakDelay: .milliseconds(Int64(self.testDelayLeaseBreak)),
            writeDelayMilliseconds: Int64(self.testDelayWrites))
        configuration.policy = ExportPolicy(
            readOnly: self.readOnly, allow: self.allow.compactMap(CIDR.init),
            squash: self.allSquash ? .all : self.rootSquash ? .root : .none,
            anonymousUID: self.anonuid, anonymousGID: self.anongid)
        configuration.maximumConnections = self.maxConnections
        configuration.maximumInFlight = self.maxInFlight
        configuration.helloTimeout = .milliseconds(Int64(self.helloTimeout * 1000))
        configuration.stallTimeout = .milliseconds(Int64(self.stallTimeout * 1000))
        return configuration
    }

    /// Generates `directory` on first use (saying so, and what to copy to clients), then loads it.
    private func loadSecurity(_ directory: TLSDirectory, listenHost: String, logger: Logger) throws -> ServerSecurity {
        do {
            var names = self.tlsName
            if names.isEmpty {
                var hostName = [CChar](repeating: 0, count: 256)
                gethostname(&hostName, hostName.count - 1)
                names = TLSMaterialGenerator.defaultServerNames(hostName: String(cString: hostName))
                if !["0.0.0.0", "::", "localhost"].contains(listenHost), !names.contains(listenHost) { names.append(listenHost) }
            }
            if try TLSMaterialGenerator.generateIfMissing(in: directory, serverNames: names) {
                logger.notice(
                    "generated TLS material; copy \(directory.clientBundle.path) to each client and mount with -o tls_dir=<copy>",
                    metadata: ["tls-dir": "\(directory.path)", "names": "\(names.joined(separator: ","))"])
            }
            return try ServerSecurity(directory: directory, authentication: .init(rawValue: self.auth)!)
        } catch {
            throw fail("serve", "\(error)")
        }
    }

    private var metricsAddress: ServerAddress? {
        self.metrics.flatMap { ServerAddress(parsing: $0, defaultPort: MetricsEndpoint.defaultPort) }
    }

    private var stateDirectory: String {
        if let stateDir = self.stateDir { return stateDir }
        if geteuid() == 0 { return "/var/lib/pohmelfs" }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/tmp"
        return home + "/.local/state/pohmelfs"
    }
}

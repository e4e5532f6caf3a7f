import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A running pohmelfs server: a listening socket, its connections, and the thread pool that
/// performs their I/O. Created by `start`, ended by `shutdown`.
public final class PohmelfsServer<Store: BackingStore>: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Largest READ or WRITE one request may carry; offered in HELLO. At least 1 MiB.
        public var maximumTransaction: UInt32
        /// Threads doing blocking file I/O.
        public var ioThreads: Int
        /// Whether READ and WRITE take transaction locks (always, except in the test that proves
        /// the torn-read checker can fail).
        public var transactionLocking: Bool = true
        /// How long a disconnected client's POSIX and flock locks are kept.
        public var lockLease: Duration = .seconds(10)
        /// Whether changes are held back until other clients' cached pages are invalidated
        /// (always, except in the test that proves the coherence checker can fail).
        public var invalidation: Bool = true
        /// How long a client may take to answer an invalidation before it loses its cache grant.
        public var invalidationTimeout: Duration = .seconds(5)
        /// Where per-request figures and the state gauges go (`pohmelfs serve --metrics`); nil
        /// records nothing.
        public var metrics: ServerMetrics? = nil
        /// Who may connect and what their requests may do (`--read-only`, `--allow`, squashing).
        public var policy = ExportPolicy()
        /// Connections served at once. At the limit a new connection takes the place of the one
        /// that has been silent longest, if it has been silent for `idleReclaim` (a live client
        /// sends at least a PING every 5 s); otherwise it is closed at accept, with a log line.
        public var maximumConnections = 256
        /// How long a connection must have sent nothing before a new one may take its place when
        /// the server is full.
        public var idleReclaim: Duration = .seconds(20)
        /// Requests of one connection being performed at once; beyond it the server stops
        /// reading that connection until replies drain (TCP backpressure, not an error).
        public var maximumInFlight = 256
        /// Payload bytes of one connection's requests being performed at once, the same way:
        /// with `maximumInFlight`, what bounds the memory one client can make the server hold.
        public var maximumInFlightBytes = 64 << 20
        /// How long a new connection has to finish the HELLO exchange.
        public var helloTimeout: Duration = .seconds(10)
        /// How long a frame may stay half-received before the connection is dropped.
        public var stallTimeout: Duration = .seconds(30)
        /// Whether the server may listen on an address other than loopback without `security`:
        /// then anyone who can reach the port can use the export, so this needs `serve --insecure`.
        public var insecure = false
        /// How long after start only reclaiming lock requests are granted (`LockService+Grace`);
        /// zero for none. `serve` sets it only when `ReclaimMarker` says clients may hold locks.
        public var gracePeriod: Duration = .zero
        /// Test-only faults (`serve --test-drop-reply-once`, `--test-delay-lease-break`); none by default.
        public var faults = FaultInjection()
        /// TLS on every connection and how clients authenticate (`serve --tls-dir`, `--auth`);
        /// nil serves the plain protocol, on loopback only unless `insecure`.
        public var security: ServerSecurity? = nil

        public init(
            host: String = "127.0.0.1", port: Int = ProtocolVersion.defaultPort,
            maximumTransaction: UInt32 = ProtocolVersion.minimumTransactionSize, ioThreads: Int = 8
        ) {
            self.host = host
            self.port = port
            self.maximumTransaction = max(maximumTransaction, ProtocolVersion.minimumTransactionSize)
            self.ioThreads = ioThreads
        }
    }

    public let localAddress: SocketAddress
    public let statistics: ServerStatistics
    private let serverChannel: any Channel
    private let threadPool: NIOThreadPool
    private let connections: ConnectionRegistry
    private let logger: Logger
    private let locks: LockService

    /// Whether any client still holds a lock (for `ReclaimMarker` at shutdown).
    public var holdsClientLocks: Bool { self.locks.holdsClientLocks }

    private init(
        localAddress: SocketAddress, statistics: ServerStatistics, serverChannel: any Channel,
        threadPool: NIOThreadPool, connections: ConnectionRegistry, logger: Logger, locks: LockService
    ) {
        self.locks = locks
        self.localAddress = localAddress
        self.statistics = statistics
        self.serverChannel = serverChannel
        self.threadPool = threadPool
        self.connections = connections
        self.logger = logger
    }

    /// Binds and starts accepting. Throws `ServerError` with a one-line reason for a bad
    /// address or a port in use.
    public static func start(
        store: Store, configuration: Configuration, group: any EventLoopGroup, logger: Logger
    ) async throws -> PohmelfsServer {
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(configuration.host, port: configuration.port)
        } catch {
            throw ServerError(
                .badAddress,
                "cannot listen on \(ServerAddress(host: configuration.host, port: configuration.port)): \(NetworkErrorText.describe(error))")
        }
        guard configuration.insecure || configuration.security != nil || CIDR.isLoopback(address) else {
            throw ServerError(.insecure, ServerError.insecureListenMessage(configuration.host))
        }
        let threadPool = NIOThreadPool(numberOfThreads: configuration.ioThreads)
        threadPool.start()
        let statistics = ServerStatistics()
        let locks = LockService(
            transactionLocking: configuration.transactionLocking, lease: configuration.lockLease,
            gracePeriod: configuration.gracePeriod, logger: logger)
        if configuration.gracePeriod > .zero {
            logger.info("grace period: only lock reclaims are granted", metadata: ["duration": "\(configuration.gracePeriod)"])
        }
        let coherence = CacheCoherence(
            enabled: configuration.invalidation, timeout: configuration.invalidationTimeout,
            breakDelay: configuration.faults.leaseBreakDelay, logger: logger)
        let shared = ServerShared(
            store: store, locks: locks, coherence: coherence, threadPool: threadPool, logger: logger,
            maximumTransaction: configuration.maximumTransaction, statistics: statistics, metrics: configuration.metrics,
            configuration: configuration)
        configuration.metrics?.attach(statistics: statistics, locks: locks, coherence: coherence)
        let connections = ConnectionRegistry()
        let maximumPayload = configuration.maximumTransaction + 64 * 1024

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // Replies of one connection queue up to this much before its reading pauses.
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: Int(maximumPayload) * 2, high: Int(maximumPayload) * 8))
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 * 1024, maximum: 1 << 21)
            )
            .childChannelInitializer { channel in
                let activity: ConnectionActivity
                switch Self.admission(of: channel, configuration: configuration, connections: connections, logger: logger) {
                case .failure(let refusal):
                    // A failed initializer closes the accepted socket before anything is read.
                    return channel.eventLoop.makeFailedFuture(refusal)
                case .success(let admitted):
                    activity = admitted
                }
                return channel.eventLoop.makeCompletedFuture {
                    if let security = configuration.security {
                        try channel.pipeline.syncOperations.addHandler(PlaintextRefusalHandler(logger: logger))
                        try channel.pipeline.syncOperations.addHandler(security.makeHandler())
                        try channel.pipeline.syncOperations.addHandler(TLSFailureLogger(logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        FrameAssemblyHandler(maximumPayload: maximumPayload, reportsProgress: true))
                    try channel.pipeline.syncOperations.addHandler(ServerConnectionHandler(shared: shared, activity: activity))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(to: address).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            try? await threadPool.shutdownGracefully()
            throw ServerError(.addressInUse, "cannot listen on \(address.displayForm): the address is already in use")
        } catch {
            try? await threadPool.shutdownGracefully()
            throw ServerError(.bindFailed, "cannot listen on \(address.displayForm): \(NetworkErrorText.describe(error))")
        }
        let server = PohmelfsServer(
            localAddress: channel.localAddress ?? address, statistics: statistics, serverChannel: channel,
            threadPool: threadPool, connections: connections, logger: logger, locks: locks)
        if let security = configuration.security {
            logger.info(
                "listening with TLS; clients authenticate with a \(security.authentication == .secret ? "shared secret" : "client certificate")",
                metadata: [LogKey.address: "\(server.localAddress.displayForm)", "tls-dir": "\(security.directory.path)"])
        } else if CIDR.isLoopback(server.localAddress) {
            logger.info(
                "listening on loopback only: no TLS or authentication configured (serve --tls-dir DIR to serve the network)",
                metadata: [LogKey.address: "\(server.localAddress.displayForm)"])
        } else {
            logger.info("listening", metadata: [LogKey.address: "\(server.localAddress.displayForm)"])
        }
        return server
    }

    /// Why a just-accepted connection is closed at once (a peer outside `--allow`, or
    /// `--max-connections` reached with no idle connection to reclaim), logged here; or its
    /// activity record when it is admitted and now tracked.
    private static func admission(
        of channel: any Channel, configuration: Configuration, connections: ConnectionRegistry, logger: Logger
    ) -> Result<ConnectionActivity, ServerError> {
        let peer = channel.remoteAddress
        let peerBytes = peer.flatMap { CIDR.addressBytes(of: $0) }
        if !configuration.policy.allow.isEmpty, !(peerBytes.map(configuration.policy.admits) ?? false) {
            logger.warning(
                "refusing connection: peer not in --allow",
                metadata: [LogKey.peer: "\(peer?.displayForm ?? "unknown")"])
            return .failure(ServerError(.refused, "peer not allowed"))
        }
        let (admitted, reclaimed) = connections.track(
            channel, limit: configuration.maximumConnections, idleReclaim: configuration.idleReclaim)
        if let reclaimed {
            logger.warning(
                "--max-connections reached: closing the connection silent longest to admit a new one",
                metadata: [LogKey.peer: "\(reclaimed.remoteAddress?.displayForm ?? "unknown")"])
            reclaimed.close(promise: nil)
        }
        guard let admitted else {
            logger.warning(
                "refusing connection: --max-connections reached",
                metadata: [LogKey.peer: "\(peer?.displayForm ?? "unknown")", LogKey.limit: "\(configuration.maximumConnections)"])
            return .failure(ServerError(.refused, "too many connections"))
        }
        return .success(admitted)
    }

    /// Stops accepting, lets requests in flight finish (up to `gracePeriod`), then closes every
    /// connection and the thread pool.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        try? await self.serverChannel.close()
        let clock = ContinuousClock()
        let deadline = clock.now + gracePeriod
        while self.statistics.inFlight.load(ordering: .relaxed) > 0 && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let open = self.connections.all
        for channel in open { try? await channel.close() }
        try? await self.threadPool.shutdownGracefully()
        self.logger.info("server stopped")
    }
}

/// When a connection last received a frame: how the server tells an idle connection from a
/// live one when it is full (a mount sends a PING after 5 s of quiet).
final class ConnectionActivity: Sendable {
    private let lastHeard = Atomic<Int64>(ConnectionActivity.now())

    /// Marks the connection as heard from now.
    func heard() { self.lastHeard.store(Self.now(), ordering: .relaxed) }

    var silentFor: Duration { .nanoseconds(Self.now() - self.lastHeard.load(ordering: .relaxed)) }

    static func now() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

/// The server's open connections, so shutdown can close them and a full server can reclaim an
/// idle one.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: (any Channel, ConnectionActivity)]>([:])

    /// Remembers `channel` until it closes and returns its activity record. When `limit`
    /// channels are tracked already, the one silent longest makes room if it has been silent for
    /// `idleReclaim` (returned second: the caller closes it); otherwise `channel` is not tracked
    /// and nil is returned.
    func track(
        _ channel: any Channel, limit: Int = .max, idleReclaim: Duration = .seconds(20)
    ) -> (ConnectionActivity?, (any Channel)?) {
        let key = ObjectIdentifier(channel)
        let activity = ConnectionActivity()
        let (admitted, reclaimed): (Bool, (any Channel)?) = self.channels.withLock { channels in
            var reclaimed: (any Channel)? = nil
            if channels.count >= limit {
                guard
                    let (oldest, entry) = channels.max(by: { $0.value.1.silentFor < $1.value.1.silentFor }),
                    entry.1.silentFor >= idleReclaim
                else { return (false, nil) }
                channels[oldest] = nil
                reclaimed = entry.0
            }
            channels[key] = (channel, activity)
            return (true, reclaimed)
        }
        guard admitted else { return (nil, nil) }
        channel.closeFuture.whenComplete { _ in _ = self.channels.withLock { $0.removeValue(forKey: key) } }
        return (activity, reclaimed)
    }

    var all: [any Channel] { self.channels.withLock { Array($0.values.map(\.0)) } }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The client side of the protocol: one TCP connection, many requests in flight, replies
/// matched by transaction id.
///
/// Two ways to ask:
/// - `send(_:caller:completion:)` encodes on the calling thread and completes on the
///   connection's event loop: the FUSE data path uses it, so a reply goes from the network
///   thread straight to the kernel and no thread ever waits.
/// - `call(_:caller:)` is the same as an `async` function, for tools and tests.
///
/// Every request is answered exactly once: with the reply, the server's errno, or a
/// `ClientError` when the connection fails (all outstanding requests fail together).
public final class RPCClient: Sendable {
    /// The first connection. A client with a `ResiliencePolicy` replaces it when it fails;
    /// closing it makes such a client reconnect.
    public let channel: any Channel
    /// The server's answer to HELLO: version, capabilities, transaction size, export root.
    public let hello: HelloResponse
    /// "host:port" as given, for messages.
    public let serverDescription: String
    /// When the first connection was made.
    private let connectedAt: Date
    /// Requests in flight and answered, for STATUS= lines.
    public let statistics = ClientStatistics()
    /// The current connection's socket, for waiting on a reply by polling (`ReplyPolling`).
    public let socketWatch: ServerSocketWatch
    /// Changes to file data sent or heard of (`DataChanges`).
    public let dataChanges = DataChanges()
    private let transactions: TransactionCounter
    /// Set when connected with a `ResiliencePolicy`: requests go through it and survive
    /// reconnects; nil: they go straight to `channel` and fail with it.
    private let resilient: ResilientConnection?
    /// What to reopen after a server restart (kept only with a `ResiliencePolicy`).
    private let openFiles: OpenFileLedger?
    /// What locks to reclaim after a server restart (kept only with a `ResiliencePolicy`).
    private let heldLocks: HeldLockLedger?

    private init(
        channel: any Channel, hello: HelloResponse, serverDescription: String,
        transactions: TransactionCounter = TransactionCounter(), socketWatch: ServerSocketWatch,
        resilient: ResilientConnection? = nil, openFiles: OpenFileLedger? = nil, heldLocks: HeldLockLedger? = nil
    ) {
        self.socketWatch = socketWatch
        self.heldLocks = heldLocks
        self.transactions = transactions
        self.channel = channel
        self.hello = hello
        self.serverDescription = serverDescription
        self.resilient = resilient
        self.openFiles = openFiles
        self.connectedAt = Date()
    }

    /// The server requests go to now, as users write it: the one connected first, until a
    /// client with several servers moves to another.
    public var serverInUse: String {
        self.resilient?.serverInUse.withLock { $0.description } ?? self.serverDescription
    }

    /// How many times this client has reconnected (0 without a `ResiliencePolicy`).
    public var reconnects: Int { self.resilient?.reconnects.load(ordering: .relaxed) ?? 0 }

    /// Requests sent again after reconnecting (0 without a `ResiliencePolicy`).
    public var resent: Int { self.resilient?.resent.load(ordering: .relaxed) ?? 0 }

    /// The connection's state and session now (a client without a `ResiliencePolicy` is
    /// connected until it fails).
    public var connection: ConnectionSnapshot {
        if let resilient = self.resilient { return resilient.published.withLock { $0 } }
        return ConnectionSnapshot(state: self.channel.isActive ? .connected : .closed, session: self.hello.session, since: self.connectedAt)
    }

    /// Whether requests are waiting for the server to come back (the connection is lost and
    /// not yet replaced): the only time an interrupted ordinary request is answered EINTR.
    public var isWaitingForServer: Bool {
        self.resilient?.disconnected.load(ordering: .relaxed) ?? !self.channel.isActive
    }

    /// Connects to the first of `servers` (several servers of one export) that answers, trying
    /// them in order, and negotiates. Throws `ClientError` naming the address when a server
    /// cannot be reached within `connectTimeout` or speaks no common protocol version (with
    /// several servers, only when none answers, naming each and why); with `security`, speaks TLS
    /// and authenticates (AUTH before HELLO when it has a secret), and throws `SecurityError` with
    /// a one-line reason when either fails.
    ///
    /// With `resilience`, the first connection must succeed but later ones are the client's
    /// business: it reconnects (with TLS and AUTH again) and resends instead of failing requests
    /// (`ResilientConnection`), moving to whichever of `servers` answers (`FailoverPolicy`): the
    /// handles it holds must be valid on all of them.
    public static func connect(
        servers: [ServerAddress],
        clientName: String,
        group: any EventLoopGroup,
        connectTimeout: Duration = .seconds(5),
        helloTimeout: Duration = .seconds(10),
        maximumTransaction: UInt32 = ProtocolVersion.minimumTransactionSize,
        resilience: ResiliencePolicy? = nil,
        security: ClientSecurity? = nil,
        capabilities: ProtocolVersion.Capabilities = [],
        onNotice: @escaping @Sendable (Frame) -> Void = { _ in }
    ) async throws -> RPCClient {
        precondition(!servers.isEmpty, "connect needs at least one server")
        let liveness = LivenessClock()
        let onNotice: @Sendable (Frame) -> Void = { frame in
            liveness.heard()
            onNotice(frame)
        }
        let maximumPayload = max(maximumTransaction, ProtocolVersion.minimumTransactionSize) + 64 * 1024
        let request = HelloRequest(capabilities: capabilities.union(.sessionSecret), clientName: clientName)
        let socketWatch = ServerSocketWatch()
        let pipeline = ClientPipeline(
            group: group, connectTimeout: connectTimeout, maximumPayload: maximumPayload, security: security,
            socketWatch: socketWatch, onNotice: onNotice)
        var failures: [String] = []
        var first: (index: Int, channel: any Channel, hello: HelloResponse)?
        for (index, server) in servers.enumerated() {
            do {
                let (channel, hello) = try await Self.firstContact(
                    server, pipeline: pipeline, request: request,
                    helloTimeout: resilience?.helloTimeout ?? helloTimeout)
                first = (index, channel, hello)
                break
            } catch {
                guard servers.count > 1 else { throw error }
                failures.append("\(error)")
                if index + 1 < servers.count {
                    resilience?.logger.warning(
                        "server \(server) did not answer; trying the next", metadata: ["error": "\(error)"])
                }
            }
        }
        guard let (index, channel, hello) = first else {
            throw ClientError(.unreachable, "none of the \(servers.count) servers answered: " + failures.joined(separator: "; "))
        }
        let description = servers[index].description
        guard let resilience else {
            return RPCClient(channel: channel, hello: hello, serverDescription: description, socketWatch: socketWatch)
        }
        let openFiles = OpenFileLedger()
        let heldLocks = HeldLockLedger(openFiles: openFiles)
        let transactions = TransactionCounter()
        let reconnectErrors = TLSErrorRecorder()
        let client = RPCClient(
            channel: channel, hello: hello, serverDescription: description, transactions: transactions,
            socketWatch: socketWatch, resilient: ResilientConnection(
                channel: channel, failover: FailoverPolicy(servers: servers, current: index), session: hello.session,
                sessionSecret: hello.sessionSecret, policy: resilience, liveness: liveness,
                openFiles: openFiles, heldLocks: heldLocks,
                connector: { server in
                    // A new connection speaks TLS again (the bootstrap's initializer) and, with a
                    // shared secret, authenticates before the resuming HELLO.
                    let connected = pipeline.bootstrap(for: server.host, tlsErrors: reconnectErrors, recorder: nil)
                        .connect(host: server.host, port: server.port)
                    guard security?.secret != nil else { return connected }
                    let handshake = SecureHandshake(
                        security: security, tlsErrors: reconnectErrors, server: server.description)
                    return connected.flatMap { channel in
                        let authenticated = channel.eventLoop.makePromise(of: (any Channel).self)
                        authenticated.completeWithTask {
                            do {
                                try await handshake.authenticate(on: channel)
                            } catch {
                                channel.close(promise: nil)
                                throw error
                            }
                            return channel
                        }
                        return authenticated.futureResult
                    }
                },
                encodeHello: { session, secret, allocator in
                    var resume = request
                    resume.resumeSession = session
                    resume.resumeSecret = secret
                    return FrameEncoding.request(resume, caller: .root, transaction: TransactionID(0), allocator: allocator)
                },
                transactions: transactions),
            openFiles: openFiles, heldLocks: heldLocks)
        return client
    }

    /// The first connection to `server`: TCP (and TLS), AUTH when there is a secret, HELLO.
    /// Throws the one-line error the user reads when any of it fails.
    private static func firstContact(
        _ server: ServerAddress, pipeline: ClientPipeline, request: HelloRequest, helloTimeout: Duration
    ) async throws -> (any Channel, HelloResponse) {
        let description = server.description
        // The first connection gets the HELLO deadline reconnects have, and names a peer that is
        // not a pohmelfs server as such.
        let firstContact = FirstContact(server: description, helloTimeout: helloTimeout)
        let tlsErrors = TLSErrorRecorder()
        let channel: any Channel
        do {
            channel = try await pipeline.bootstrap(
                for: server.host, tlsErrors: tlsErrors, recorder: firstContact.claimRecorder()
            ).connect(host: server.host, port: server.port).get()
        } catch {
            throw ClientError(.unreachable, "cannot reach pohmelfs server at \(description): \(NetworkErrorText.describe(error))")
        }
        let handshake = SecureHandshake(security: pipeline.security, tlsErrors: tlsErrors, server: description)
        let deadline = firstContact.armDeadline(on: channel)
        defer { deadline.cancel() }
        do {
            try await handshake.authenticate(on: channel)
        } catch {
            throw Self.explainFirstContact(error, firstContact, tlsErrors)
        }
        let transaction = TransactionID(0)
        let frame = FrameEncoding.request(request, caller: .root, transaction: transaction, allocator: channel.allocator)
        let hello: HelloResponse
        do {
            hello = try await withCheckedThrowingContinuation { continuation in
                Self.write(transaction: transaction, frame: frame, on: channel) { result in
                    continuation.resume(with: Self.decode(result, as: HelloRequest.self, channel: channel))
                }
            }
        } catch let errno as Errno where errno.rawValue == EPROTONOSUPPORT {
            try? await channel.close()
            throw ClientError(
                .versionMismatch,
                "server at \(description) does not speak protocol versions \(request.oldestVersion)...\(request.newestVersion)")
        } catch {
            try? await channel.close()
            throw Self.explainFirstContact(handshake.explain(error, during: .hello), firstContact, tlsErrors)
        }
        deadline.cancel()
        return (channel, hello)
    }

    /// A failure before HELLO was answered, reworded when the peer is no pohmelfs server at all
    /// (unless TLS itself failed, which `SecureHandshake` has already explained).
    private static func explainFirstContact(
        _ error: any Error, _ firstContact: FirstContact, _ tlsErrors: TLSErrorRecorder
    ) -> any Error {
        guard tlsErrors.error == nil, error is ClientError || error is SecurityError else { return error }
        if let clientError = error as? ClientError, clientError.code == .versionMismatch { return error }
        return firstContact.explain() ?? error
    }

    /// Sends `request`; `completion` runs once, on the event loop. Returns the transaction id
    /// (to CANCEL a blocked lock request).
    @discardableResult
    public func send<R: WireRequest>(
        _ request: R, caller: Caller, completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) -> TransactionID {
        var completion = completion
        // Locks first: a RELEASE must be seen while its file is still in the open-file ledger.
        if let heldLocks = self.heldLocks { completion = heldLocks.tracking(request, completion) }
        if let openFiles = self.openFiles { completion = openFiles.tracking(request, caller: caller, completion) }
        if let open = request as? OpenRequest, open.flags & OpenRequest.truncating != 0 {
            completion = self.trackingChange(completion)
        }
        return self.send(R.self, caller: caller, encode: { request.encode(into: &$0) }, completion: completion)
    }

    /// `completion`, after the change it answers is counted as answered (`DataChanges`).
    private func trackingChange<T>(
        _ completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) -> @Sendable (Result<T, any Error>) -> Void {
        let changes = self.dataChanges
        changes.sending()
        return { result in
            changes.answered()
            completion(result)
        }
    }

    /// Sends a request of type `R` whose body `encode` writes straight into the frame, for
    /// payloads (write data from the kernel) that should be copied exactly once.
    @discardableResult
    public func send<R: WireRequest>(
        _ type: R.Type, caller: Caller, sizeHint: Int = 256, encode: (inout ByteBuffer) -> Void,
        completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) -> TransactionID {
        let completion = DataChanges.changesData(R.opcode) ? self.trackingChange(completion) : completion
        let transaction = self.transactions.next()
        let frame = FrameEncoding.frame(
            header: MessageHeader(opcode: R.opcode, transaction: transaction),
            allocator: self.channel.allocator,
            capacity: sizeHint
        ) { buffer in
            caller.encode(into: &buffer)
            encode(&buffer)
        }
        let channel = self.channel
        let statistics = self.statistics
        statistics.started()
        if let resilient = self.resilient {
            resilient.submit(
                RetainedRequest(
                    transaction: transaction, opcode: R.opcode, frame: frame,
                    completion: { result in
                        statistics.finished()
                        completion(Self.decode(result, as: R.self, channel: nil))
                    }, submitted: .now()))
            return transaction
        }
        Self.write(transaction: transaction, frame: frame, on: channel) { result in
            statistics.finished()
            completion(Self.decode(result, as: R.self, channel: channel))
        }
        return transaction
    }

    /// Hands a request to `RPCClientHandler`, guaranteeing `completion` runs exactly once.
    ///
    /// Once a channel has closed, NIO removes its handlers, so a request written afterwards never
    /// reaches `RPCClientHandler` (which would fail it at once): the channel fails the write
    /// promise instead. That failure completes the request too; whichever comes first wins.
    static func write(
        transaction: TransactionID, frame: ByteBuffer, on channel: any Channel,
        completion: @escaping @Sendable (Result<Frame, ClientError>) -> Void
    ) {
        let once = CompleteOnce(completion)
        let outbound = OutboundRequest(transaction: transaction, frame: frame) { once.complete($0) }
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenFailure { error in
            once.complete(.failure((error as? ClientError) ?? ClientError(.connectionClosed, "cannot send: \(NetworkErrorText.describe(error))")))
        }
        channel.writeAndFlush(outbound, promise: promise)
    }

    /// Sends `request` and waits for its reply.
    public func call<R: WireRequest>(_ request: R, caller: Caller = .root) async throws -> R.Response {
        try await withCheckedThrowingContinuation { continuation in
            self.send(request, caller: caller) { continuation.resume(with: $0) }
        }
    }

    /// Closes the connection; outstanding requests fail with `connectionClosed`.
    public func close() async {
        if let resilient = self.resilient {
            try? await resilient.close().get()
        }
        try? await self.channel.close()
    }

    static func decode<R: WireRequest>(
        _ result: Result<Frame, ClientError>, as type: R.Type, channel: (any Channel)?
    ) -> Result<R.Response, any Error> {
        switch result {
        case .failure(let error):
            return .failure(error)
        case .success(let frame):
            guard frame.header.opcode == R.opcode else {
                channel?.close(promise: nil)
                return .failure(
                    ClientError(.protocolViolation, "server answered \(R.opcode) with \(frame.header.opcode)"))
            }
            if frame.header.status != 0 { return .failure(Errno(wire: frame.header.status)) }
            do {
                return .success(try R.Response.decode(frame: frame))
            } catch {
                channel?.close(promise: nil)
                return .failure(ClientError(.protocolViolation, "server sent a malformed \(R.opcode) reply: \(error)"))
            }
        }
    }
}

/// A request's completion that runs at most once, whoever calls it (the handler with the reply
/// or the failure, or the failed write).
private final class CompleteOnce: Sendable {
    private let completion: @Sendable (Result<Frame, ClientError>) -> Void
    private let done = Atomic<Bool>(false)

    init(_ completion: @escaping @Sendable (Result<Frame, ClientError>) -> Void) { self.completion = completion }

    func complete(_ result: Result<Frame, ClientError>) {
        guard self.done.exchange(true, ordering: .acquiringAndReleasing) == false else { return }
        self.completion(result)
    }
}

/// How the client's connections are built, to any server of its list: TCP options, TLS for
/// that host, the first-contact recorder on the first connection only, the frame decoder and
/// `RPCClientHandler`. Immutable after init, so shared by the connecting task and reconnects.
private struct ClientPipeline: Sendable {
    let group: any EventLoopGroup
    let connectTimeout: Duration
    let maximumPayload: UInt32
    let security: ClientSecurity?
    let socketWatch: ServerSocketWatch
    let onNotice: @Sendable (Frame) -> Void

    func bootstrap(for host: String, tlsErrors: TLSErrorRecorder, recorder: FirstContact.Recorder?) -> ClientBootstrap {
        let (security, maximumPayload, onNotice, socketWatch) = (self.security, self.maximumPayload, self.onNotice, self.socketWatch)
        return ClientBootstrap(group: self.group)
            .connectTimeout(TimeAmount(self.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .keepalive()
            .channelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 * 1024, maximum: 1 << 21)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ServerSocketLocator(watch: socketWatch))
                    if let security {
                        try channel.pipeline.syncOperations.addHandler(try security.makeHandler(host: host))
                        try channel.pipeline.syncOperations.addHandler(tlsErrors)
                    }
                    if let recorder {
                        try channel.pipeline.syncOperations.addHandler(recorder)
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        FrameAssemblyHandler(maximumPayload: maximumPayload))
                    try channel.pipeline.syncOperations.addHandler(RPCClientHandler(onNotice: onNotice))
                }
            }
    }
}

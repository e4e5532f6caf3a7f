import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Everything the connections of one server share.
final class ServerShared<Store: BackingStore>: Sendable {
    let store: Store
    let router: RequestRouter<Store>
    let threadPool: NIOThreadPool
    /// `RequestContext.offload`: made once here, not per request (a closure that captures the
    /// pool is an allocation).
    let offload: @Sendable (@escaping @Sendable () -> Void) -> Void
    /// The store's `answersMetadataOnEventLoop`: namespace requests skip the pool.
    let metadataOnEventLoop: Bool
    let logger: Logger
    let maximumTransaction: UInt32
    let statistics: ServerStatistics
    /// Per-request figures for `--metrics`; nil when no one scrapes.
    let metrics: ServerMetrics?
    let locks: LockService
    let coherence: CacheCoherence
    /// Session ids start at a random point per server run, so a client resuming a session of an
    /// earlier run (before a restart) cannot name, and take over, a session of this one.
    let nextSession = Atomic<UInt64>(UInt64.random(in: 1...(1 << 48)) << 8)
    let maximumInFlight: Int
    let maximumInFlightBytes: Int
    let helloTimeout: TimeAmount
    let stallTimeout: TimeAmount
    /// Sessions, attached or kept for their client to resume.
    let sessions = SessionTable<Store>()
    let faults: FaultInjection
    /// How long a detached session is kept for its client (the lock lease).
    let sessionLease: TimeAmount
    let authentication: AuthenticationGate

    init(
        store: Store, locks: LockService, coherence: CacheCoherence, threadPool: NIOThreadPool, logger: Logger,
        maximumTransaction: UInt32, statistics: ServerStatistics, metrics: ServerMetrics? = nil,
        configuration: PohmelfsServer<Store>.Configuration = .init()
    ) {
        self.maximumInFlight = max(1, configuration.maximumInFlight)
        self.maximumInFlightBytes = max(1, configuration.maximumInFlightBytes)
        self.helloTimeout = TimeAmount(configuration.helloTimeout)
        self.stallTimeout = TimeAmount(configuration.stallTimeout)
        self.faults = configuration.faults
        self.sessionLease = TimeAmount(locks.lease)
        self.authentication = AuthenticationGate(security: configuration.security)
        self.store = store
        self.locks = locks
        self.coherence = coherence
        self.router = RequestRouter(
            store: store, locks: locks, coherence: coherence, maximumTransaction: maximumTransaction,
            policy: configuration.policy)
        self.threadPool = threadPool
        self.offload = { work in threadPool.submit { _ in work() } }
        self.metadataOnEventLoop = store.answersMetadataOnEventLoop
        self.logger = logger
        self.maximumTransaction = maximumTransaction
        self.statistics = statistics
        self.metrics = metrics
    }
}

/// Serves one client connection: HELLO first, then any number of pipelined requests, each
/// performed on the thread pool (or on this event loop: `EventLoopRequests`) and answered, in
/// completion order, with its transaction id.
///
/// A frame that breaks the protocol (bad header, oversized, malformed payload, a reply or
/// notice from a client, anything before HELLO) closes this connection only, with the reason
/// logged; other clients carry on.
///
/// Limits: a connection that has not finished HELLO within `helloTimeout`, or leaves a frame
/// half-sent for `stallTimeout`, is closed. At most `maximumInFlight` requests (and
/// `maximumInFlightBytes` of their payloads) are performed at once per connection: beyond that,
/// and while replies cannot be written out, the handler holds back `read()` so the kernel's
/// receive buffer fills and TCP slows the client down; reading resumes as replies drain.
///
/// Threading: lives on its channel's event loop; not Sendable.
final class ServerConnectionHandler<Store: BackingStore>: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingHello
        case negotiating
        case ready(ClientSession<Store>)
        case closed
    }

    private var state = State.awaitingHello
    /// The session this connection attached, kept apart from `state`: however the connection
    /// ends (clean close, reset, timeout, violation, server-side drop), `channelInactive`
    /// detaches it, even when a violation already moved `state` to `.closed`.
    private var attachedSession: ClientSession<Store>?
    /// Who this connection's requests may act as (`CallerLimit`), learnt at HELLO.
    private var callerLimit = CallerLimit.nobody
    /// Whether a request's claimed identity has been replaced yet (logged once per connection).
    private var loggedLimitedCaller = false
    private let shared: ServerShared<Store>
    private var logger: Logger
    private var peer = "unknown"
    /// Requests of this connection on the thread pool, and their payload bytes.
    private var inFlight = 0
    private var inFlightBytes = 0
    /// Whether a `read()` was held back for backpressure and is owed once there is room.
    private var readPending = false
    private var helloTimer: Scheduled<Void>?
    private var stallTimer: Scheduled<Void>?
    /// Whether HELLO may proceed: from the start, or once AUTH presented the shared secret.
    private var authenticated: Bool
    /// Replies written since the last flush are flushed by one task queued on the event loop:
    /// replies of requests that finish together leave in one `write` system call.
    private var flushQueued = false

    /// When this connection last received a frame (`ConnectionRegistry` reclaims idle ones).
    private let activity: ConnectionActivity

    init(shared: ServerShared<Store>, activity: ConnectionActivity = ConnectionActivity()) {
        self.shared = shared
        self.activity = activity
        self.logger = shared.logger
        self.authenticated = shared.authentication.admitsHelloWithoutAuth
    }

    func channelActive(context: ChannelHandlerContext) {
        self.peer = context.remoteAddress?.displayForm ?? "unknown"
        self.logger[metadataKey: LogKey.peer] = "\(self.peer)"
        self.shared.statistics.connections.add(1, ordering: .relaxed)
        self.logger.info("client connected")
        let timeout = self.shared.helloTimeout
        self.helloTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            switch self.state {
            case .awaitingHello, .negotiating:
                self.dropConnection(context, "no HELLO within \(timeout.nanoseconds / 1_000_000) ms")
            case .ready, .closed:
                break
            }
        }
        context.fireChannelActive()
    }

    /// Closes a connection that broke a limit, with the reason logged.
    private func dropConnection(_ context: ChannelHandlerContext, _ reason: String) {
        self.shared.statistics.protocolErrors.add(1, ordering: .relaxed)
        self.logger.warning("dropping connection", metadata: [LogKey.error: "\(reason)"])
        self.end(context)
    }

    /// The one way this handler ends its connection: no more frames are handled, and the close
    /// reaches `channelInactive`, which releases what the connection held (its session detached
    /// for the lease). Harmless when already closing.
    private func end(_ context: ChannelHandlerContext) {
        self.state = .closed
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let progress = event as? FrameProgress else { return context.fireUserInboundEventTriggered(event) }
        switch progress {
        case .partial:
            self.armStallTimer(context)
        case .complete:
            self.stallTimer?.cancel()
            self.stallTimer = nil
        }
    }

    private func armStallTimer(_ context: ChannelHandlerContext) {
        self.stallTimer?.cancel()
        let timeout = self.shared.stallTimeout
        self.stallTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.stallTimer = nil
            if case .closed = self.state { return }
            // While reading is held back for backpressure the missing bytes are our doing:
            // look again later.
            if self.readPending { return self.armStallTimer(context) }
            self.dropConnection(context, "frame left unfinished for \(timeout.nanoseconds / 1_000_000) ms")
        }
    }

    /// Holds `read()` back while this connection has too much in flight or its replies cannot
    /// be written out.
    func read(context: ChannelHandlerContext) {
        if self.mustPause(context) {
            self.readPending = true
        } else {
            self.readPending = false
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.resumeIfPossible(context)
        context.fireChannelWritabilityChanged()
    }

    private func mustPause(_ context: ChannelHandlerContext) -> Bool {
        self.inFlight >= self.shared.maximumInFlight || self.inFlightBytes >= self.shared.maximumInFlightBytes
            || !context.channel.isWritable
    }

    private func resumeIfPossible(_ context: ChannelHandlerContext) {
        guard self.readPending, !self.mustPause(context) else { return }
        self.readPending = false
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.shared.statistics.connections.subtract(1, ordering: .relaxed)
        self.helloTimer?.cancel()
        self.stallTimer?.cancel()
        self.helloTimer = nil
        self.stallTimer = nil
        // Every end of a connection arrives here, whatever closed it first: the session it
        // attached is detached (its lease starts) in this one place.
        if let session = self.attachedSession {
            self.attachedSession = nil
            self.detach(session, from: context.channel, on: context.eventLoop)
        }
        self.state = .closed
        self.logger.info("client disconnected")
        context.fireChannelInactive()
    }

    /// This connection dropped: its session waits, detached, for the lease (files open, locks
    /// held, replies cached) and then ends, unless its client resumes it first. A session another
    /// connection has taken over is left alone.
    /// `channel` nil: a resumed session whose new connection ended before it was attached.
    private func detach(_ session: ClientSession<Store>, from channel: (any Channel)?, on eventLoop: any EventLoop) {
        guard session.detach(channel) else { return }
        let shared = self.shared
        // Blocked lock requests withdrawn now will never be answered: forget them in the reply
        // cache, so their resent copies are performed (queued again) rather than ignored.
        for withdrawn in shared.locks.sessionDetached(session.id) { session.replies.abandon(withdrawn) }
        let cached = shared.coherence.cachedFiles(of: session.id)
        session.cachedWhenDetached.withLock { $0 = cached }
        shared.coherence.sessionEnded(session.id)
        shared.sessions.detach(session, lease: shared.sessionLease, on: eventLoop) { [logger] in
            session.releaseAll()
            shared.locks.sessionExpired(session.id)
            shared.store.unstage(shared.coherence.delegations.sessionExpired(session.id))
            logger.debug("detached session expired", metadata: [LogKey.session: "\(session.id.rawValue)"])
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        self.activity.heard()
        guard frame.header.flags.isEmpty, frame.header.opcode.descriptor.direction == .request else {
            return self.violation(
                context, WireError(.unexpectedFrame, "client sent a \(frame.header.opcode) frame that is not a request"))
        }
        switch self.state {
        case .awaitingHello:
            if frame.header.opcode == .auth { return self.authenticate(context, frame) }
            guard frame.header.opcode == .hello else {
                return self.violation(context, WireError(.unexpectedFrame, "\(frame.header.opcode) before HELLO"))
            }
            guard self.authenticated else {
                return self.refuse(
                    context, frame, .credentialsRequired,
                    "no credentials: HELLO without AUTH, and the server requires a shared secret")
            }
            self.hello(context, frame)
        case .negotiating:
            self.violation(context, WireError(.unexpectedFrame, "\(frame.header.opcode) before the HELLO reply"))
        case .ready(let session):
            guard frame.header.opcode != .hello else {
                return self.violation(context, WireError(.unexpectedFrame, "second HELLO"))
            }
            self.dispatch(context, frame, session)
        case .closed:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wireError = error as? WireError {
            self.violation(context, wireError)
        } else {
            self.logger.info("closing connection", metadata: [LogKey.error: "\(error)"])
            self.end(context)
        }
    }

    /// Logs why and closes this connection only.
    private func violation(_ context: ChannelHandlerContext, _ error: WireError) {
        guard case .closed = self.state else {
            self.shared.statistics.protocolErrors.add(1, ordering: .relaxed)
            self.logger.warning("protocol violation, closing connection", metadata: [LogKey.error: "\(error)"])
            self.end(context)
            return
        }
    }

    /// AUTH: the shared secret, compared in constant time. Accepted: an empty reply, and HELLO
    /// may follow. Refused: EKEYREJECTED, a warning with the peer and the reason, and the connection
    /// closes.
    private func authenticate(_ context: ChannelHandlerContext, _ frame: Frame) {
        var payload = frame.payload
        let request: AuthRequest
        do {
            _ = try Caller(from: &payload)
            request = try AuthRequest.decode(payload: payload)
        } catch {
            return self.violation(context, (error as? WireError) ?? WireError(.invalidValue, "\(error)"))
        }
        switch self.shared.authentication.verdict(onSecret: request.secret) {
        case .accepted:
            self.authenticated = true
            let reply = FrameEncoding.reply(
                EmptyResponse(), opcode: .auth, transaction: frame.header.transaction, allocator: context.channel.allocator)
            context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
        case .refused(let reason):
            self.refuse(context, frame, .credentialsRejected, reason)
        }
    }

    /// Answers `frame` with `errno`, logs the failed authentication with the peer, and closes.
    private func refuse(_ context: ChannelHandlerContext, _ frame: Frame, _ errno: Errno, _ reason: String) {
        self.logger.warning("authentication failed, closing connection", metadata: [LogKey.error: "\(reason)"])
        self.state = .closed
        let reply = FrameEncoding.errorReply(
            errno, opcode: frame.header.opcode, transaction: frame.header.transaction,
            allocator: context.channel.allocator)
        context.writeAndFlush(self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func hello(_ context: ChannelHandlerContext, _ frame: Frame) {
        var payload = frame.payload
        let request: HelloRequest
        do {
            _ = try Caller(from: &payload)
            request = try HelloRequest.decode(payload: payload)
        } catch let error as WireError {
            return self.violation(context, error)
        } catch {
            return self.violation(context, WireError(.invalidValue, "\(error)"))
        }
        let version = min(request.newestVersion, ProtocolVersion.current)
        guard version >= max(request.oldestVersion, ProtocolVersion.oldestSupported) else {
            self.logger.warning(
                "client speaks protocol versions \(request.oldestVersion)...\(request.newestVersion), server \(ProtocolVersion.oldestSupported)...\(ProtocolVersion.current)"
            )
            let reply = FrameEncoding.errorReply(
                Errno(EPROTONOSUPPORT), opcode: .hello, transaction: frame.header.transaction,
                allocator: context.channel.allocator)
            context.writeAndFlush(self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            self.state = .closed
            return
        }
        self.state = .negotiating
        let shared = self.shared
        // A session is resumed only by the client that had it (same name), never by a stranger.
        let resumed = request.resumeSession.flatMap {
            shared.sessions.resume(
                $0, clientName: String(decoding: request.clientName, as: UTF8.self), secret: request.resumeSecret)
        }
        let session =
            resumed
            ?? ClientSession<Store>(
                id: SessionID(shared.nextSession.wrappingAdd(1, ordering: .relaxed).oldValue),
                peer: self.peer,
                clientName: String(decoding: request.clientName, as: UTF8.self))
        let transaction = frame.header.transaction
        let allocator = context.channel.allocator
        let maximumTransaction = max(
            ProtocolVersion.minimumTransactionSize, min(request.maximumTransaction, shared.maximumTransaction))
        let remote = context.channel.remoteAddress
        let local = context.channel.localAddress
        let authenticated = shared.authentication.security != nil
        // Leases need invalidation (`CacheCoherence+Leases`) and a client that answers LEASE_BREAK.
        // A store other servers change too (`sharedStore`) cannot keep a lease true.
        let leases = request.capabilities.contains(.leases) && shared.coherence.enabled
            && !shared.store.capabilities.contains(.sharedStore)
        // Delegations need staged objects, invalidation (recalls ride on it) and a writable export.
        let delegation = request.capabilities.contains(.delegation) && shared.coherence.enabled
            && shared.store.stagesObjects && !shared.router.policy.readOnly
        if delegation { shared.coherence.delegations.enable(session.id) }
        // Only where a client may buffer writes: a shared store's clients write through, and
        // its attributes may cost a round trip to the metadata server per WRITE.
        let writeAttributes = request.capabilities.contains(.writeAttributes)
            && !shared.store.capabilities.contains(.sharedStore)
        session.wantsWriteAttributes.store(writeAttributes, ordering: .relaxed)
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            let found = CallerLimit.forConnection(remote: remote, local: local, authenticated: authenticated)
            var response = HelloResponse(
                version: version,
                capabilities: shared.store.capabilities.union(shared.locks.transactionLocking ? .transactionLocks : [])
                    .union([.sessionResume, .atomicAppend]).union(leases ? .leases : [])
                    .union(leases ? request.capabilities.intersection([.listingLeases, .xattrLeases]) : [])
                    .union(delegation ? .delegation : [])
                    .union(request.capabilities.contains(.grantOnCreate) && shared.coherence.enabled ? .grantOnCreate : [])
                    .union(request.capabilities.intersection([.sessionSecret, .openAndList, .firstRead]))
                    .union(writeAttributes ? .writeAttributes : []),
                maximumTransaction: maximumTransaction,
                session: session.id, root: try shared.store.rootEntry(), resumed: resumed != nil)
            response.sessionSecret = session.secret
            return (FrameEncoding.reply(response, opcode: .hello, transaction: transaction, allocator: allocator), found)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let (reply, (limit, why))):
                guard case .negotiating = self.state, context.channel.isActive else {
                    // The connection ended while HELLO was being answered: a resumed session
                    // goes back to waiting for its client (a new one was never attached).
                    if resumed != nil { self.detach(session, from: nil, on: context.eventLoop) }
                    return
                }
                self.state = .ready(session)
                self.attachedSession = session
                self.callerLimit = limit
                self.helloTimer?.cancel()
                self.helloTimer = nil
                let channel = context.channel
                if resumed == nil {
                    shared.sessions.insert(session)
                    shared.locks.sessionStarted(session.id, client: session.clientName, peer: session.peer)
                }
                // A session resumed while its old connection still looks alive (a network cut
                // the server never noticed): the client has moved on, so close the old one.
                session.attach(channel)?.close(promise: nil)
                shared.coherence.sessionStarted(session.id, allocator: channel.allocator) {
                    channel.writeAndFlush($0, promise: nil)
                }
                shared.coherence.setLeases(leases, for: session.id)
                if resumed != nil {
                    // Changes made while it was away were not invalidated on its side: they are
                    // now, right after the HELLO reply (sent first, below).
                    let cached = session.cachedWhenDetached.withLock { $0 }
                    context.eventLoop.assumeIsolated().execute {
                        shared.coherence.refresh(cached, for: session.id)
                    }
                }
                self.logger[metadataKey: LogKey.session] = "\(session.id.rawValue)"
                self.logger.info(
                    resumed == nil ? "session established" : "session resumed",
                    metadata: ["client": "\(session.clientName)", "callers": "\(why)"])
                context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
            case .failure(let error):
                self.logger.error("cannot describe export root", metadata: [LogKey.error: "\(error)"])
                let reply = FrameEncoding.errorReply(
                    (error as? Errno) ?? .io, opcode: .hello, transaction: transaction, allocator: allocator)
                context.writeAndFlush(self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
                self.state = .closed
            }
        }
    }

    private func dispatch(_ context: ChannelHandlerContext, _ frame: Frame, _ session: ClientSession<Store>) {
        var payload = frame.payload
        let caller: Caller
        do {
            let claimed = try Caller(from: &payload)
            caller = self.callerLimit.apply(claimed)
            if caller != claimed && !self.loggedLimitedCaller {
                self.loggedLimitedCaller = true
                self.logger.warning(
                    "a request claimed an identity this connection may not use; it acts as its peer's user",
                    metadata: ["claimed": "uid \(claimed.uid) gid \(claimed.gid)", "acting": "uid \(caller.uid) gid \(caller.gid)"])
            }
        } catch {
            return self.violation(context, (error as? WireError) ?? WireError(.invalidValue, "\(error)"))
        }
        guard let route = self.shared.router.route(for: frame.header.opcode) else {
            return self.violation(context, WireError(.unknownOpcode, "no route for \(frame.header.opcode)"))
        }
        let opcode = frame.header.opcode
        let transaction = frame.header.transaction
        if opcode.isReplayUnsafe {
            switch session.replies.admit(transaction) {
            case .perform:
                break
            case .inProgress:
                // A resent copy of a request still being performed: its reply goes to this
                // connection (the session's current one) when it is done.
                return
            case .answered(let reply):
                self.logger.debug("answering a resent request from the reply cache", metadata: [LogKey.opcode: "\(opcode)"])
                return session.send(reply)
            }
        }
        let metrics = self.shared.metrics
        let started = metrics == nil ? 0 : ServerMetrics.now()
        let deliver = self.makeDeliver(opcode: opcode, transaction: transaction, session: session, channel: context.channel)
        // A reply sent later (a blocked SETLK, a write held for invalidations) is counted when sent.
        let respond: @Sendable (ByteBuffer) -> Void =
            if let metrics {
                { reply in
                    metrics.requestCompleted(opcode, reply: reply, since: started)
                    deliver(reply)
                }
            } else {
                deliver
            }
        let requestContext = RequestContext(
            caller: caller, session: session, transaction: frame.header.transaction,
            allocator: context.channel.allocator,
            respond: respond,
            eventLoop: context.eventLoop,
            offload: self.shared.offload)
        let statistics = self.shared.statistics
        if opcode == .read { statistics.reads.add(1, ordering: .relaxed) }
        if opcode == .write || opcode == .append { statistics.writes.add(1, ordering: .relaxed) }
        statistics.inFlight.add(1, ordering: .relaxed)
        let body = payload
        if opcode == .read, let reply = self.shared.router.readOnEventLoop(body, requestContext) {
            // Answered from the page cache without leaving the event loop (`RequestRouter+FastRead`).
            statistics.readsOnEventLoop.add(1, ordering: .relaxed)
            statistics.inFlight.subtract(1, ordering: .relaxed)
            statistics.requests.add(1, ordering: .relaxed)
            metrics?.requestCompleted(opcode, reply: reply, since: started)
            return self.sendReply(reply, context)
        }
        let bytes = body.readableBytes
        self.inFlight += 1
        self.inFlightBytes += bytes
        let writeDelay = self.shared.faults.writeDelayMilliseconds
        if opcode == .write, writeDelay > 0 {
            // Test fault (`--test-delay-writes`): the WRITE starts later, no thread held.
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(writeDelay)) {
                self.perform(context, route, body, requestContext, opcode: opcode, started: started, bytes: bytes, deliver: deliver, session: session)
            }
            return
        }
        self.perform(context, route, body, requestContext, opcode: opcode, started: started, bytes: bytes, deliver: deliver, session: session)
    }

    /// Runs one request and answers it: on the thread pool, or on this event loop when the store
    /// answers it with a few short system calls (`EventLoopRequests`).
    private func perform(
        _ context: ChannelHandlerContext, _ route: @escaping RequestRouter<Store>.Route, _ body: ByteBuffer,
        _ requestContext: RequestContext<Store>, opcode: Opcode, started: UInt64, bytes: Int,
        deliver: @escaping @Sendable (ByteBuffer) -> Void, session: ClientSession<Store>
    ) {
        let metrics = self.shared.metrics
        let statistics = self.shared.statistics
        let transaction = requestContext.transaction
        let finish: (Result<ByteBuffer?, any Error>) -> Void = { result in
            statistics.inFlight.subtract(1, ordering: .relaxed)
            self.inFlight -= 1
            self.inFlightBytes -= bytes
            defer { self.resumeIfPossible(context) }
            statistics.requests.add(1, ordering: .relaxed)
            switch result {
            case .success(let reply?):
                metrics?.requestCompleted(opcode, reply: reply, since: started)
                self.answer(reply, opcode: opcode, transaction: transaction, session: session, context, deliver: deliver)
            case .success(nil):
                // The route answers later, through `RequestContext.respond`.
                break
            case .failure(let error as WireError):
                if opcode.isReplayUnsafe { session.replies.abandon(transaction) }
                self.violation(context, error)
            case .failure(let error):
                let errno: Errno
                if let known = error as? Errno {
                    errno = known
                } else {
                    errno = .io
                    self.logger.error(
                        "request failed unexpectedly",
                        metadata: [LogKey.opcode: "\(opcode)", LogKey.error: "\(error)"])
                }
                self.logger.trace("request failed", metadata: [LogKey.opcode: "\(opcode)", LogKey.error: "\(errno)"])
                let reply = FrameEncoding.errorReply(
                    errno, opcode: opcode, transaction: requestContext.transaction,
                    allocator: context.channel.allocator)
                metrics?.requestCompleted(opcode, reply: reply, since: started)
                self.answer(reply, opcode: opcode, transaction: transaction, session: session, context, deliver: deliver)
            }
        }
        if self.shared.metadataOnEventLoop, EventLoopRequests.runsOnEventLoop(opcode, payload: body) {
            statistics.requestsOnEventLoop.add(1, ordering: .relaxed)
            return finish(EventLoopRequests.run(route, body, requestContext))
        }
        self.shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            try route(body, requestContext)
        }.assumeIsolated().whenComplete(finish)
    }

    /// What sends the reply to one request, from any thread. An idempotent request is answered
    /// on the connection it came in on (if that one is gone, the client resends it and it is
    /// simply performed again). A replay-unsafe one has its reply kept in the reply cache and
    /// sent on the session's current connection: a resent copy that arrived on a new connection
    /// while this one was still being performed waits for exactly this reply.
    private func makeDeliver(
        opcode: Opcode, transaction: TransactionID, session: ClientSession<Store>, channel: any Channel
    ) -> @Sendable (ByteBuffer) -> Void {
        let faults = self.shared.faults
        let logger = self.logger
        guard opcode.isReplayUnsafe else { return { channel.writeAndFlush($0, promise: nil) } }
        return { reply in
            guard Self.keep(reply, opcode: opcode, transaction: transaction, session: session, faults: faults, logger: logger)
            else { return }
            session.send(reply)
        }
    }

    /// Answers a request finished on this connection's event loop. A replay-unsafe reply is
    /// kept in the reply cache as `deliver` keeps it; while this connection is still the
    /// session's, it then leaves with the turn's other replies (`sendReply`) instead of in a
    /// `write` of its own: a client's write-behind sends a file's SETATTR, WRITE and RELEASE
    /// together, and a flush per reply woke it once for each (in a `tar -xf`, 23 % of the
    /// server's samples were those writes). On another connection it goes through `deliver`.
    private func answer(
        _ reply: ByteBuffer, opcode: Opcode, transaction: TransactionID, session: ClientSession<Store>,
        _ context: ChannelHandlerContext, deliver: @Sendable (ByteBuffer) -> Void
    ) {
        guard opcode.isReplayUnsafe else { return self.sendReply(reply, context) }
        guard let current = session.currentConnection, current === context.channel else { return deliver(reply) }
        guard
            Self.keep(
                reply, opcode: opcode, transaction: transaction, session: session, faults: self.shared.faults,
                logger: self.logger)
        else { return }
        self.sendReply(reply, context)
    }

    /// Keeps a replay-unsafe reply for resent copies of its request; false when a test fault
    /// (`--test-drop-reply`) drops it instead and closes the session's connection.
    private static func keep(
        _ reply: ByteBuffer, opcode: Opcode, transaction: TransactionID, session: ClientSession<Store>,
        faults: FaultInjection, logger: Logger
    ) -> Bool {
        session.replies.complete(transaction, reply: reply)
        guard faults.takeDropReply(opcode) else { return true }
        logger.warning("test fault: dropping the reply and closing the connection", metadata: [LogKey.opcode: "\(opcode)"])
        session.currentConnection?.close(promise: nil)
        return false
    }

    /// Writes a reply and makes sure a flush follows within this turn of the event loop.
    ///
    /// Pool threads hand finished requests to the event loop as tasks; at queue depth 16 several
    /// are usually waiting together. Writing each and queueing one flush behind them sends all
    /// their replies in one `write` (and wakes the client once), where a flush per reply costs a
    /// system call and a wake-up each. A lone reply waits only for the tasks already queued.
    private func sendReply(_ reply: ByteBuffer, _ context: ChannelHandlerContext) {
        context.write(self.wrapOutboundOut(reply), promise: nil)
        guard !self.flushQueued else { return }
        self.flushQueued = true
        context.eventLoop.assumeIsolated().execute {
            self.flushQueued = false
            context.flush()
        }
    }
}

import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Everything the connections of one server share.
final class ServerShared<Store: BackingStore>: Sendable {
    let store: Store
    let router: RequestRouter<Store>
    let threadPool: NIOThreadPool
    let logger: Logger
    let maximumTransaction: UInt32
    let statistics: ServerStatistics
    /// Per-request figures for `--metrics`; nil when no one scrapes.
    let metrics: ServerMetrics?
    let locks: LockService
    let coherence: CacheCoherence
    let nextSession = Atomic<UInt64>(1)
    let maximumInFlight: Int
    let maximumInFlightBytes: Int
    let helloTimeout: TimeAmount
    let stallTimeout: TimeAmount

    init(
        store: Store, locks: LockService, coherence: CacheCoherence, threadPool: NIOThreadPool, logger: Logger,
        maximumTransaction: UInt32, statistics: ServerStatistics, metrics: ServerMetrics? = nil,
        configuration: PohmelfsServer<Store>.Configuration = .init()
    ) {
        self.maximumInFlight = max(1, configuration.maximumInFlight)
        self.maximumInFlightBytes = max(1, configuration.maximumInFlightBytes)
        self.helloTimeout = TimeAmount(configuration.helloTimeout)
        self.stallTimeout = TimeAmount(configuration.stallTimeout)
        self.store = store
        self.locks = locks
        self.coherence = coherence
        self.router = RequestRouter(
            store: store, locks: locks, coherence: coherence, maximumTransaction: maximumTransaction,
            policy: configuration.policy)
        self.threadPool = threadPool
        self.logger = logger
        self.maximumTransaction = maximumTransaction
        self.statistics = statistics
        self.metrics = metrics
    }
}

/// Serves one client connection: HELLO first, then any number of pipelined requests, each
/// performed on the thread pool and answered, in completion order, with its transaction id.
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
    /// Replies written since the last flush are flushed by one task queued on the event loop:
    /// replies of requests that finish together leave in one `write` system call.
    private var flushQueued = false

    init(shared: ServerShared<Store>) {
        self.shared = shared
        self.logger = shared.logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.peer = context.remoteAddress?.description ?? "unknown"
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
        if case .ready(let session) = self.state {
            session.releaseAll()
            self.shared.locks.sessionEnded(session.id, on: context.eventLoop)
            self.shared.coherence.sessionEnded(session.id)
        }
        self.state = .closed
        self.logger.info("client disconnected")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        guard frame.header.flags.isEmpty, frame.header.opcode.descriptor.direction == .request else {
            return self.violation(
                context, WireError(.unexpectedFrame, "client sent a \(frame.header.opcode) frame that is not a request"))
        }
        switch self.state {
        case .awaitingHello:
            guard frame.header.opcode == .hello else {
                return self.violation(context, WireError(.unexpectedFrame, "\(frame.header.opcode) before HELLO"))
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
            self.state = .closed
            context.close(promise: nil)
        }
    }

    /// Logs why and closes this connection only.
    private func violation(_ context: ChannelHandlerContext, _ error: WireError) {
        guard case .closed = self.state else {
            self.shared.statistics.protocolErrors.add(1, ordering: .relaxed)
            self.logger.warning("protocol violation, closing connection", metadata: [LogKey.error: "\(error)"])
            self.state = .closed
            context.close(promise: nil)
            return
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
        let session = ClientSession<Store>(
            id: SessionID(shared.nextSession.wrappingAdd(1, ordering: .relaxed).oldValue),
            peer: self.peer,
            clientName: String(decoding: request.clientName, as: UTF8.self))
        let transaction = frame.header.transaction
        let allocator = context.channel.allocator
        let maximumTransaction = max(
            ProtocolVersion.minimumTransactionSize, min(request.maximumTransaction, shared.maximumTransaction))
        shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            let response = HelloResponse(
                version: version, capabilities: shared.store.capabilities.union(shared.locks.transactionLocking ? .transactionLocks : []), maximumTransaction: maximumTransaction,
                session: session.id, root: try shared.store.rootEntry())
            return FrameEncoding.reply(response, opcode: .hello, transaction: transaction, allocator: allocator)
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let reply):
                guard case .negotiating = self.state else { return }
                self.state = .ready(session)
                self.helloTimer?.cancel()
                self.helloTimer = nil
                shared.locks.sessionStarted(session.id, client: session.clientName, peer: session.peer)
                let channel = context.channel
                shared.coherence.sessionStarted(session.id, allocator: channel.allocator) {
                    channel.writeAndFlush($0, promise: nil)
                }
                self.logger[metadataKey: LogKey.session] = "\(session.id.rawValue)"
                self.logger.info("session established", metadata: ["client": "\(session.clientName)"])
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
            caller = try Caller(from: &payload)
        } catch {
            return self.violation(context, (error as? WireError) ?? WireError(.invalidValue, "\(error)"))
        }
        guard let route = self.shared.router.route(for: frame.header.opcode) else {
            return self.violation(context, WireError(.unknownOpcode, "no route for \(frame.header.opcode)"))
        }
        let channel = context.channel
        let opcode = frame.header.opcode
        let metrics = self.shared.metrics
        let started = metrics == nil ? 0 : ServerMetrics.now()
        // A reply sent later (a blocked SETLK, a write held for invalidations) is counted when sent.
        let respond: @Sendable (ByteBuffer) -> Void =
            if let metrics {
                { reply in
                    metrics.requestCompleted(opcode, reply: reply, since: started)
                    channel.writeAndFlush(reply, promise: nil)
                }
            } else {
                { channel.writeAndFlush($0, promise: nil) }
            }
        let requestContext = RequestContext(
            caller: caller, session: session, transaction: frame.header.transaction,
            allocator: context.channel.allocator,
            respond: respond,
            eventLoop: context.eventLoop)
        let statistics = self.shared.statistics
        if opcode == .read { statistics.reads.add(1, ordering: .relaxed) }
        statistics.inFlight.add(1, ordering: .relaxed)
        let body = payload
        let bytes = body.readableBytes
        self.inFlight += 1
        self.inFlightBytes += bytes
        self.shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            try route(body, requestContext)
        }.assumeIsolated().whenComplete { result in
            statistics.inFlight.subtract(1, ordering: .relaxed)
            self.inFlight -= 1
            self.inFlightBytes -= bytes
            defer { self.resumeIfPossible(context) }
            statistics.requests.add(1, ordering: .relaxed)
            switch result {
            case .success(let reply?):
                metrics?.requestCompleted(opcode, reply: reply, since: started)
                self.sendReply(reply, context)
            case .success(nil):
                // The route answers later, through `RequestContext.respond`.
                break
            case .failure(let error as WireError):
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
                self.sendReply(reply, context)
            }
        }
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

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

    init(
        store: Store, locks: LockService, coherence: CacheCoherence, threadPool: NIOThreadPool, logger: Logger,
        maximumTransaction: UInt32, statistics: ServerStatistics, metrics: ServerMetrics? = nil
    ) {
        self.store = store
        self.locks = locks
        self.coherence = coherence
        self.router = RequestRouter(
            store: store, locks: locks, coherence: coherence, maximumTransaction: maximumTransaction)
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
/// Threading: lives on its channel's event loop; not Sendable.
final class ServerConnectionHandler<Store: BackingStore>: ChannelInboundHandler {
    typealias InboundIn = Frame
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

    init(shared: ServerShared<Store>) {
        self.shared = shared
        self.logger = shared.logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.peer = context.remoteAddress?.description ?? "unknown"
        self.logger[metadataKey: LogKey.peer] = "\(self.peer)"
        self.shared.statistics.connections.add(1, ordering: .relaxed)
        self.logger.info("client connected")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.shared.statistics.connections.subtract(1, ordering: .relaxed)
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
        self.shared.threadPool.runIfActive(eventLoop: context.eventLoop) {
            try route(body, requestContext)
        }.assumeIsolated().whenComplete { result in
            statistics.inFlight.subtract(1, ordering: .relaxed)
            statistics.requests.add(1, ordering: .relaxed)
            switch result {
            case .success(let reply?):
                metrics?.requestCompleted(opcode, reply: reply, since: started)
                context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
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
                context.writeAndFlush(self.wrapOutboundOut(reply), promise: nil)
            }
        }
    }
}

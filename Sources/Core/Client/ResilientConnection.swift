import Foundation
import Logging
import NIOCore
import Synchronization

/// A client connection that outlives its TCP connections: it keeps every request until it is
/// answered (`RetainedRequests`), notices a dead connection (EOF, a socket error, or no answer
/// to anything, PING included, for the heartbeat timeout), reconnects with backoff, says HELLO
/// again naming its session, and resends what is unanswered, in order.
///
/// After HELLO:
/// - the server resumed the session (a dropped connection, a network cut): its open files,
///   locks and reply cache are as they were; resend at once;
/// - the server started a new session (it restarted, or the lease ran out): REOPEN every open
///   file under its old id first (`OpenFileLedger`), then resend.
///
/// A client given several servers of one export (`FailoverPolicy`) reconnects to whichever
/// answers: the one in use first after a closed connection, the next one first after silence. A
/// different server never knows the session, so moving is the new-session path above, logged as
/// "server A lost; moved to B".
///
/// Meanwhile new requests simply wait in the retained set. With a soft timeout, a request that
/// has waited that long while the server was away fails with `ClientError.timedOut` (EIO).
///
/// State machine: `ready(channel)` --lost--> `connecting` --HELLO resumed--> `ready`, or
/// --HELLO new session--> `restoring(channel)` --all REOPENs answered--> `ready`; any state
/// --close()--> `closed`. A connection lost while restoring goes back to `connecting`.
///
/// Threading: every mutable field is touched only on `loop`; entry points hop there. Hence
/// `@unchecked Sendable`.
final class ResilientConnection: @unchecked Sendable {
    private enum State {
        case ready(any Channel)
        case connecting
        case restoring(any Channel)
        case closed(ClientError)
    }

    /// Opens a new TCP connection to a server with the client's pipeline (frame decoder,
    /// `RPCClientHandler`).
    typealias Connector = @Sendable (ServerAddress) -> EventLoopFuture<any Channel>
    /// Encodes a HELLO naming the session to resume.
    typealias HelloEncoder = @Sendable (SessionID, [UInt8], ByteBufferAllocator) -> ByteBuffer

    let loop: any EventLoop
    private let policy: ResiliencePolicy
    private let connector: Connector
    private let encodeHello: HelloEncoder
    private let transactions: TransactionCounter
    private let openFiles: OpenFileLedger
    private let heldLocks: HeldLockLedger
    /// When a frame last arrived (notices are stamped by the handler's callback).
    private let liveness: LivenessClock
    private var logger: Logger

    // Loop-confined state.
    private var state: State
    private var retained = RetainedRequests()
    private var session: SessionID
    /// The secret that resumes `session` (from its HELLO reply).
    private var sessionSecret: [UInt8]
    private var attempt = 0
    /// The servers, the one in use, and which one each reconnect attempt goes to.
    private var failover: FailoverPolicy
    /// The server the lost connection went to, until a reconnect succeeds: the move's log line.
    private var lostServer: Int?
    /// Set when the heartbeat closes a silent connection, read when its loss is handled.
    private var closingSilent = false
    private var lostAt: NIODeadline?
    private var heartbeat: RepeatedTask?
    private var softTimer: RepeatedTask?
    /// The next "not responding, still trying" line while the server is away.
    private var outageReport: Scheduled<Void>?
    /// Soft mounts: the server has left requests unanswered for the soft timeout and has not been
    /// heard from since; new requests fail at once until it is.
    private var unreachable = false
    /// Set when a connection comes back, cleared by the first request answered afterwards: the
    /// reconnect timeline in the log.
    private var reconnectedAt: NIODeadline?
    /// REOPENs or reclaims not yet answered while restoring.
    private var restorePending = 0
    /// The channel whose flush is queued behind this turn of the loop (`write`).
    private var flushQueued: ObjectIdentifier?

    /// Reconnects so far, for statistics and tests.
    let reconnects = Atomic<Int>(0)
    /// Requests sent again on a new connection, for `pohmelfs status`.
    let resent = Atomic<Int>(0)
    /// The state and session as `pohmelfs status` shows them, readable from any thread.
    let published: Mutex<ConnectionSnapshot>
    /// True from losing the connection until a new one is ready: requests then wait for the
    /// server, and an interrupted one may be answered EINTR (FUSE interrupts).
    let disconnected = Atomic<Bool>(false)

    init(
        channel: any Channel, failover: FailoverPolicy, session: SessionID, sessionSecret: [UInt8] = [], policy: ResiliencePolicy, liveness: LivenessClock,
        openFiles: OpenFileLedger, heldLocks: HeldLockLedger, connector: @escaping Connector, encodeHello: @escaping HelloEncoder,
        transactions: TransactionCounter
    ) {
        self.loop = channel.eventLoop
        self.failover = failover
        self.state = .ready(channel)
        self.session = session
        self.sessionSecret = sessionSecret
        self.policy = policy
        self.liveness = liveness
        self.openFiles = openFiles
        self.heldLocks = heldLocks
        self.connector = connector
        self.encodeHello = encodeHello
        self.transactions = transactions
        self.logger = policy.logger
        self.logger[metadataKey: LogKey.session] = "\(session.rawValue)"
        self.published = Mutex(ConnectionSnapshot(state: .connected, session: session, since: Date()))
        self.serverInUse = Mutex(failover.inUse)
        self.onLoop {
            self.watch(channel)
            self.startHeartbeat()
            self.startSoftTimer()
        }
    }

    /// The server in use (or, while reconnecting, the one lost) as users write it, for messages.
    private var server: String { self.failover.inUse.description }

    /// "server h1:7646", or "servers h1:7646, h2:7700" for a client that may fail over.
    private var everyServer: String {
        let servers = self.failover.servers
        return servers.count == 1 ? "server \(servers[0])" : "servers \(servers.map(\.description).joined(separator: ", "))"
    }

    /// The server in use, readable from any thread, for `pohmelfs status`.
    let serverInUse: Mutex<ServerAddress>

    private func onLoop(_ body: @escaping @Sendable () -> Void) {
        if self.loop.inEventLoop { body() } else { self.loop.execute(body) }
    }

    // MARK: - Requests

    /// Keeps `request` until it is answered and sends it when there is a connection.
    func submit(_ request: RetainedRequest) {
        self.onLoop {
            if case .closed(let reason) = self.state { return request.completion(.failure(reason)) }
            if self.unreachable {
                return request.completion(
                    .failure(ClientError(.timedOut, "the server has not answered within the soft timeout")))
            }
            self.retained.insert(request)
            if case .ready(let channel) = self.state { self.write(request, on: channel) }
        }
    }

    private func write(_ request: RetainedRequest, on channel: any Channel) {
        let transaction = request.transaction
        let outbound = OutboundRequest(transaction: transaction, frame: request.frame) { result in
            self.onLoop { self.answered(transaction, result) }
        }
        // A failed write means the connection is gone: the request stays retained and goes out
        // again on the next one.
        channel.write(outbound, promise: nil)
        self.flushAfterThisTurn(channel)
    }

    /// Queues one flush of `channel` behind the events of this turn of the loop, so the requests
    /// sent while handling them leave in one `write` (the replies of one read each start a
    /// file's next write-behind step; a FUSE pass reads up to 64 requests): on loopback TCP each
    /// `write` also runs the server's receive path and wakes it. A lone request waits only for
    /// the events already read, as the server's replies do (`ServerConnectionHandler.sendReply`).
    private func flushAfterThisTurn(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        guard self.flushQueued != id else { return }
        self.flushQueued = id
        self.loop.execute {
            if self.flushQueued == id { self.flushQueued = nil }
            channel.flush()
        }
    }

    private func answered(_ transaction: TransactionID, _ result: Result<Frame, ClientError>) {
        switch result {
        case .success(let frame):
            self.liveness.heard()
            self.unreachable = false
            guard let request = self.retained.remove(transaction) else { return }
            if let since = self.reconnectedAt {
                self.reconnectedAt = nil
                self.logger.info(
                    "first request answered after reconnecting",
                    metadata: ["opcode": "\(request.opcode)", "ms": "\(Self.milliseconds(since: since))"])
            }
            request.completion(.success(frame))
        case .failure(let error) where error.code == .connectionClosed:
            // Resent after the reconnect.
            break
        case .failure(let error):
            self.retained.remove(transaction)?.completion(.failure(error))
        }
    }

    /// Fails everything and stops reconnecting; returns once every retained request has been
    /// answered (with `connectionClosed`).
    func close() -> EventLoopFuture<Void> {
        self.loop.submit {
            let reason = ClientError(.connectionClosed, "connection to the server closed")
            let channel: (any Channel)?
            switch self.state {
            case .ready(let current), .restoring(let current): channel = current
            case .connecting, .closed: channel = nil
            }
            self.state = .closed(reason)
            self.publish(.closed)
            self.heartbeat?.cancel()
            self.softTimer?.cancel()
            self.outageReport?.cancel()
            for request in self.retained.removeAll() { request.completion(.failure(reason)) }
            channel?.close(promise: nil)
        }
    }

    // MARK: - Losing and regaining the connection

    private func watch(_ channel: any Channel) {
        channel.closeFuture.whenComplete { _ in self.onLoop { self.lost(channel) } }
    }

    private func lost(_ channel: any Channel) {
        switch self.state {
        case .ready(let current) where current === channel, .restoring(let current) where current === channel:
            break
        default:
            return
        }
        self.state = .connecting
        self.publish(.reconnecting)
        self.heartbeat?.cancel()
        self.heartbeat = nil
        if self.lostAt == nil { self.lostAt = .now() }
        if self.lostServer == nil { self.lostServer = self.failover.current }
        self.failover.lost(self.closingSilent ? .silent : .closed)
        self.closingSilent = false
        self.disconnected.store(true, ordering: .relaxed)
        let others = self.failover.servers.count > 1 ? " (to it or another of \(self.failover.servers.count) servers)" : ""
        self.logger.warning(
            "connection to server \(self.server) lost; reconnecting\(others)", metadata: ["unanswered": "\(self.retained.count)"])
        self.startSoftTimer()
        self.scheduleOutageReport(after: self.policy.outageReportFirst)
        self.attempt = 0
        self.scheduleReconnect()
    }

    private func scheduleReconnect() {
        self.attempt += 1
        let delay = self.policy.backoff(attempt: self.failover.round(ofAttempt: self.attempt))
        self.loop.scheduleTask(in: TimeAmount(delay)) { self.reconnect() }
    }

    private func reconnect() {
        guard case .connecting = self.state else { return }
        let index = self.failover.server(forAttempt: self.attempt)
        let target = self.failover.servers[index]
        self.connector(target).hop(to: self.loop).flatMap { channel -> EventLoopFuture<(any Channel, HelloResponse)> in
            self.hello(on: channel).map { (channel, $0) }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }.whenComplete { result in
            switch result {
            case .success(let (channel, hello)):
                self.connected(channel, hello, server: index)
            case .failure(let error):
                self.logger.debug(
                    "reconnect attempt failed",
                    metadata: ["attempt": "\(self.attempt)", "server": "\(target)", "error": "\(error)"])
                guard case .connecting = self.state else { return }
                self.scheduleReconnect()
            }
        }
    }

    /// HELLO on a fresh connection, naming the session to resume. Fails if the connection
    /// closes first (a write to a closed channel never reaches the handler), or is closed for
    /// not answering within the HELLO timeout (a hung server accepts but never answers).
    private func hello(on channel: any Channel) -> EventLoopFuture<HelloResponse> {
        let promise = self.loop.makePromise(of: HelloResponse.self)
        let timeout = self.loop.scheduleTask(in: TimeAmount(self.policy.helloTimeout)) {
            channel.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        let once = Atomic<Bool>(false)
        let complete: @Sendable (Result<HelloResponse, any Error>) -> Void = { result in
            guard once.exchange(true, ordering: .acquiringAndReleasing) == false else { return }
            promise.completeWith(result)
        }
        let frame = self.encodeHello(self.session, self.sessionSecret, channel.allocator)
        let outbound = OutboundRequest(transaction: TransactionID(0), frame: frame) { result in
            complete(
                result.mapError { $0 as any Error }.flatMap { frame in
                    guard frame.header.opcode == .hello, frame.header.status == 0,
                        let hello = try? HelloResponse.decode(payload: frame.payload)
                    else { return .failure(ClientError(.protocolViolation, "the server refused HELLO")) }
                    return .success(hello)
                })
        }
        channel.closeFuture.whenComplete { _ in
            complete(.failure(ClientError(.connectionClosed, "the connection closed during HELLO")))
        }
        channel.writeAndFlush(outbound, promise: nil)
        return promise.futureResult
    }

    private func connected(_ channel: any Channel, _ hello: HelloResponse, server index: Int) {
        guard case .connecting = self.state else {
            channel.close(promise: nil)
            return
        }
        let lost = self.lostServer.map { self.failover.servers[$0] }
        self.lostServer = nil
        self.failover.connected(to: index)
        self.serverInUse.withLock { $0 = self.failover.inUse }
        if let lost, lost != self.failover.inUse {
            self.logger.warning(
                "server \(lost) lost; moved to \(self.failover.inUse) after \(Self.seconds(since: self.lostAt))",
                metadata: ["attempts": "\(self.attempt)"])
        }
        self.watch(channel)
        let previous = self.session
        self.session = hello.session
        self.sessionSecret = hello.sessionSecret
        self.logger[metadataKey: LogKey.session] = "\(hello.session.rawValue)"
        let back =
            lost == nil || lost == self.failover.inUse
            ? "server \(self.server) back after \(Self.seconds(since: self.lostAt))" : "server \(self.server) in use"
        self.policy.onReconnect()
        if hello.resumed {
            self.logger.info("\(back); reconnected; session resumed", metadata: ["attempts": "\(self.attempt)"])
            self.becomeReady(channel)
        } else {
            self.logger.info(
                "\(back); reconnected to a new session; reopening files",
                metadata: ["previous": "\(previous.rawValue)", "open": "\(self.openFiles.count)", "attempts": "\(self.attempt)"])
            self.policy.onNewSession()
            self.restore(on: channel)
        }
    }

    /// One request sent while restoring a new session, and what to do if the server refuses it.
    private struct RestoreStep: Sendable {
        var caller: Caller
        var request: any WireRequest
        var described: String
        var refused: @Sendable () -> Void = {}
    }

    /// A new session knows none of this client's open files or locks: REOPEN each file under
    /// its old id, then reclaim each held lock (SETLK `reclaim`, granted in the server's grace
    /// period), then carry on. A file that cannot be reopened (removed meanwhile) is forgotten;
    /// requests on it then fail with EBADF. A lock that cannot be reclaimed is logged as lost.
    private func restore(on channel: any Channel) {
        self.state = .restoring(channel)
        self.publish(.restoring)
        let openFiles = self.openFiles
        let reopens = openFiles.all.map { file, entry in
            RestoreStep(
                caller: entry.caller,
                request: ReopenRequest(
                    file: file, handle: entry.handle, flags: entry.flags, caching: entry.caching,
                    isDirectory: entry.isDirectory),
                described: "reopen \(file)", refused: { openFiles.forget(file) })
        }
        self.sendAll(reopens, on: channel) {
            self.sendAll(self.reclaims(), on: channel) { self.becomeReady(channel) }
        }
    }

    /// A reclaiming SETLK for every lock in the ledger, through some open file of its object.
    private func reclaims() -> [RestoreStep] {
        var steps: [RestoreStep] = []
        for (handle, locks) in self.heldLocks.all {
            guard let (file, entry) = self.openFiles.someFile(on: handle) else { continue }
            for lock in locks {
                let request = SetlkRequest(
                    file: file, owner: lock.owner.owner, flavor: lock.kind == .flock ? .flock : .posix,
                    type: lock.mode == .exclusive ? .write : .read,
                    range: WireLockRange(start: lock.range.start, end: lock.range.end),
                    pid: UInt32(bitPattern: lock.owner.pid ?? 0), wait: false, reclaim: true)
                steps.append(RestoreStep(caller: entry.caller, request: request, described: "reclaim \(lock)"))
            }
        }
        return steps
    }

    /// Sends `steps` on `channel` while restoring and runs `next` once all are answered. Stops
    /// quietly if the connection is lost meanwhile (the next one starts over).
    private func sendAll(_ steps: [RestoreStep], on channel: any Channel, then next: @escaping @Sendable () -> Void) {
        guard !steps.isEmpty else { return next() }
        self.restorePending = steps.count
        for step in steps {
            let transaction = self.transactions.next()
            let frame = FrameEncoding.request(
                step.request, caller: step.caller, transaction: transaction, allocator: channel.allocator)
            let outbound = OutboundRequest(transaction: transaction, frame: frame) { result in
                self.onLoop {
                    guard case .restoring(let current) = self.state, current === channel else { return }
                    if case .success(let reply) = result {
                        self.liveness.heard()
                        if reply.header.status != 0 {
                            self.logger.warning(
                                "the new session refused a request restoring the old one's state",
                                metadata: ["what": "\(step.described)", "error": "\(Errno(wire: reply.header.status))"])
                            step.refused()
                        }
                    }
                    self.restorePending -= 1
                    if self.restorePending == 0 { next() }
                }
            }
            channel.writeAndFlush(outbound, promise: nil)
        }
    }

    private func becomeReady(_ channel: any Channel) {
        self.state = .ready(channel)
        self.publish(.connected)
        self.unreachable = false
        self.outageReport?.cancel()
        self.outageReport = nil
        self.lostAt = nil
        self.disconnected.store(false, ordering: .relaxed)
        self.reconnects.wrappingAdd(1, ordering: .relaxed)
        self.reconnectedAt = .now()
        self.liveness.heard()
        self.startHeartbeat()
        let resend = self.retained.inOrder
        self.resent.wrappingAdd(resend.count, ordering: .relaxed)
        self.logger.info("resending unanswered requests", metadata: ["count": "\(resend.count)"])
        for request in resend { self.write(request, on: channel) }
    }

    private func publish(_ state: ConnectionSnapshot.State) {
        let session = self.session
        self.published.withLock { $0 = ConnectionSnapshot(state: state, session: session, since: Date()) }
    }

    // MARK: - Timers

    private func startHeartbeat() {
        self.heartbeat?.cancel()
        // A soft mount PINGs often enough that a healthy server is always heard from well within
        // its timeout, even while a request (a blocked lock) waits long for a good reason.
        let interval = TimeAmount(min(self.policy.heartbeatInterval, (self.policy.softTimeout ?? .seconds(3600)) / 3))
        let timeout = UInt64(TimeAmount(self.policy.heartbeatTimeout).nanoseconds)
        self.heartbeat = self.loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            guard case .ready(let channel) = self.state else { return }
            let quiet = self.liveness.silence
            if quiet >= timeout {
                self.logger.warning("the server answered nothing for \(quiet / 1_000_000) ms; reconnecting")
                self.closingSilent = true
                channel.close(promise: nil)
            } else if quiet >= UInt64(interval.nanoseconds) {
                let transaction = self.transactions.next()
                let frame = FrameEncoding.request(
                    PingRequest(), caller: .root, transaction: transaction, allocator: channel.allocator)
                let outbound = OutboundRequest(transaction: transaction, frame: frame) { result in
                    if case .success = result {
                        self.liveness.heard()
                        self.onLoop { self.unreachable = false }
                    }
                }
                channel.writeAndFlush(outbound, promise: nil)
            }
        }
    }

    /// Soft mounts (runs for the connection's whole life, connected or not): a request waits at
    /// most the soft timeout for a server that says nothing. When a request has waited that long
    /// since it was sent and nothing at all (reply, PING answer) came from the server meanwhile,
    /// the server is unreachable: that request and every other one waiting fail now (EIO), and
    /// new ones fail at once until the server is heard from again. So each call returns within
    /// the timeout (plus this timer's 100 ms) of the server going silent, never a timeout per
    /// call in a row (DocC ConsistencyContract, "Faults").
    private func startSoftTimer() {
        guard let timeout = self.policy.softTimeout, self.softTimer == nil else { return }
        let limit = TimeAmount(timeout)
        self.softTimer = self.loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) {
            _ in
            let heardAt = NIODeadline.now() - .nanoseconds(Int64(min(self.liveness.silence, UInt64(Int64.max))))
            let expired = self.retained.removeExpired(now: .now()) { max($0.submitted, heardAt) + limit }
            guard !expired.isEmpty else { return }
            self.unreachable = true
            let waiting = self.retained.removeAll()
            self.logger.warning(
                "soft mount: the server answered nothing within the timeout; failing waiting requests",
                metadata: ["count": "\(expired.count + waiting.count)"])
            let reason = ClientError(.timedOut, "the server did not answer within the soft timeout")
            for request in expired + waiting { request.completion(.failure(reason)) }
        }
    }

    /// While the server is away: "server 127.0.0.1:7646 not responding, still trying (5 s)",
    /// first after `outageReportFirst`, then at doubling intervals up to `outageReportEvery`, as
    /// NFS does, so a long outage is visible in the log without flooding it.
    private func scheduleOutageReport(after delay: Duration) {
        self.outageReport?.cancel()
        self.outageReport = self.loop.scheduleTask(in: TimeAmount(delay)) {
            guard self.lostAt != nil else { return }
            switch self.state {
            case .connecting, .restoring: break
            case .ready, .closed: return
            }
            self.logger.warning(
                "\(self.everyServer) not responding, still trying (\(Self.seconds(since: self.lostAt)))",
                metadata: ["unanswered": "\(self.retained.count)"])
            self.scheduleOutageReport(after: min(delay * 2, self.policy.outageReportEvery))
        }
    }

    /// "7 s" (whole seconds from 10 s on, tenths below), for messages.
    private static func seconds(since start: NIODeadline?) -> String {
        guard let start else { return "0 s" }
        let tenths = (NIODeadline.now() - start).nanoseconds / 100_000_000
        return tenths >= 100 ? "\(tenths / 10) s" : "\(Double(tenths) / 10) s"
    }

    private static func milliseconds(since start: NIODeadline) -> Int64 {
        (NIODeadline.now() - start).nanoseconds / 1_000_000
    }
}

import CLinux
import Dispatch
import NIOCore
import NIOPosix
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// Serves /dev/fuse from the event loop that owns the server connection, instead of libfuse's
/// loop on a thread of its own.
///
/// A request, its frame to the server, the server's reply and the answer to the kernel then all
/// happen on one thread: the FUSE thread's hand-off to the event loop (a wake-up, ~25–50 µs on
/// this machine: FIELD-NOTES) is gone, and at queue depth 1 the client wakes twice per request
/// (the kernel's request, the server's reply) instead of three or four times.
///
/// How the loop learns that /dev/fuse has a request: NIO cannot watch a descriptor it does not
/// read, and a channel reading /dev/fuse itself is wrong, because /dev/fuse can poll readable and
/// then have nothing (a signal withdraws a request, or the reply to a request withdraws its
/// queued INTERRUPT, between the poll and the read) and NIO takes a read that finds nothing
/// after readiness for a broken invariant (an assertion in debug builds). So the kernel reports
/// readiness as a queued real-time signal to the event loop's thread (`O_ASYNC`, `F_SETSIG`,
/// `F_SETOWN_EX`: the kernel queues one each time it adds a request, an interrupt or a forget),
/// blocked there and read through a signalfd, which is readable exactly while such a signal is
/// pending for that thread. Each time it is, the handler reads /dev/fuse itself, non-blocking,
/// until it is empty (`EAGAIN` is then just the end), handing each request to libfuse
/// (`fuse_session_process_buf`), which calls the operations on this thread. A request that
/// arrives while the handler reads is read in the same pass; its signal then finds /dev/fuse
/// empty, which costs one read. Nothing the operations do on the request path blocks (they
/// send and return; kernel notifications have their own queue: `KernelNotifier`), so the loop
/// is never held.
///
/// In a burst of requests the handler polls /dev/fuse for a moment before going back to the
/// loop (`RequestPolling`; `POHMELFS_FUSE_POLL_US`, 0 turns it off), and, while the server owes
/// a reply, the server's socket too (`ReplyPolling`; `POHMELFS_REPLY_POLL_US`), so that at
/// queue depth 1 neither the reply nor the program's next request has to wake the loop.
///
/// The default; POHMELFS_FUSE_EVENT_LOOP=0 runs libfuse's loop on a thread instead. The channel
/// closes when the kernel ends the session (the read fails with ENODEV: unmounted), when a
/// request ends it (`fuse_session_exited`), or when `FUSESession.exit()` stops it.
final class FUSEEventLoopChannel: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    private let session: FUSESession
    /// Requests to the server not yet answered: polling /dev/fuse only while there are none,
    /// the server's socket too while there are some.
    private let statistics: ClientStatistics
    /// The server connection's socket, polled while a reply is owed (`ReplyPolling`).
    private let socketWatch: ServerSocketWatch
    private var polling: RequestPolling
    private var replyPolling: ReplyPolling
    /// /dev/fuse and the server's socket, as `awaitReply` hands them to poll(2).
    private var watched = (pollfd(), pollfd())
    /// The signal that reports /dev/fuse readable, raised here to come back after a wait.
    private let readinessSignal: Int32
    /// The duplicate of the session's descriptor this channel reads (non-blocking); `serve`
    /// closes it once the channel is closed.
    private let device: Int32
    /// One request at a time, reused: libfuse's operations copy what they keep before returning.
    private let buffer: UnsafeMutableRawBufferPointer
    /// Requests read in one pass before the loop turns to its other channels (the pass goes on
    /// after its next wait for events: `readRequests`).
    private static let requestsPerPass = 64

    private init(session: FUSESession, polling: RequestPolling, replyPolling: ReplyPolling, statistics: ClientStatistics, socketWatch: ServerSocketWatch, device: Int32, readinessSignal: Int32, requestSize: Int) {
        self.readinessSignal = readinessSignal
        self.session = session
        self.polling = polling
        self.replyPolling = replyPolling
        self.statistics = statistics
        self.socketWatch = socketWatch
        self.device = device
        self.buffer = .allocate(byteCount: requestSize, alignment: 4096)
    }

    deinit { self.buffer.deallocate() }

    func channelActive(context: ChannelHandlerContext) {
        if self.replyPolling.window > 0 || self.polling.window > 0 {
            // The server's last reply is being answered to the kernel: the program it wakes may
            // make its next call at once, so look for it (polling in a burst) once the loop is
            // done with the reply, instead of sleeping until its signal wakes the loop. This is
            // also when the client becomes idle (`RequestPolling`).
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            self.statistics.whenIdle {
                guard eventLoop.inEventLoop else { return }
                let (handler, context) = loopBound.value
                handler.later(context) { $0.readRequests(context: $1) }
            }
        }
        // Requests queued before readiness was signalled have no signal of their own.
        self.readRequests(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.statistics.whenIdle(nil)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // The signals' content does not matter: each says "/dev/fuse had something".
        self.readRequests(context: context)
    }

    private func readRequests(context: ChannelHandlerContext) {
        for _ in 0..<Self.requestsPerPass {
            var count = read(self.device, self.buffer.baseAddress, self.buffer.count)
            if count < 0, errno == EAGAIN { count = self.poll() }
            if count > 0 {
                self.polling.requestRead(at: Self.now())
                self.session.process(UnsafeRawBufferPointer(rebasing: self.buffer[0..<count]))
                if self.session.hasExited { return context.close(promise: nil) }
                continue
            }
            switch count < 0 ? errno : ENODEV {
            case EAGAIN:
                if self.mayAwaitReply {
                    // Behind the flush this turn queued: the request is still in NIO's buffer.
                    self.later(context) { $0.awaitReply(context: $1) }
                }
                return
            case EINTR, ENOENT: continue  // ENOENT: the request was interrupted as it was read
            default: return context.close(promise: nil)  // ENODEV once unmounted; anything else ends it too
            }
        }
        // More to read: come back after the loop's next wait for events, so that the server's
        // replies and notices are read between passes (a task queued now would run in this same
        // turn, before the wait: a program answered from the cache would keep the loop from them).
        if pohmelfs_raise_readiness(self.readinessSignal) != 0 {
            self.later(context) { $0.readRequests(context: $1) }
        }
    }

    /// Runs `body` in a task queued on the loop, behind the tasks already queued.
    private func later(_ context: ChannelHandlerContext, _ body: @escaping (FUSEEventLoopChannel, ChannelHandlerContext) -> Void) {
        let loopBound = NIOLoopBound((self, context, body), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context, body) = loopBound.value
            if context.channel.isActive { body(handler, context) }
        }
    }

    /// /dev/fuse was empty: reads it again until a request comes or the poll's deadline
    /// passes, in a burst while the server owes nothing (`RequestPolling`). The result of the
    /// last read, errno set as it left it.
    private func poll() -> Int {
        let started = Self.now()
        guard
            let deadline = self.polling.pollDeadline(
                at: started, serverIdle: self.statistics.inFlight.load(ordering: .relaxed) == 0)
        else {
            errno = EAGAIN
            return -1
        }
        while true {
            let count = read(self.device, self.buffer.baseAddress, self.buffer.count)
            if count >= 0 || errno != EAGAIN { return count }
            let now = Self.now()
            if now >= deadline || self.statistics.inFlight.load(ordering: .relaxed) != 0 {
                self.polling.pollFoundNothing(at: now)
                errno = EAGAIN
                return -1
            }
        }
    }

    /// Reply polling is on and exactly one request is owed (`awaitReply`).
    private var mayAwaitReply: Bool {
        self.replyPolling.window > 0 && self.statistics.inFlight.load(ordering: .relaxed) == 1
    }

    /// A reply is owed, /dev/fuse is empty and the requests of this turn have been flushed: polls
    /// the server's socket and /dev/fuse until either is readable or the wait's deadline passes
    /// (`ReplyPolling`), then returns to the loop, which finds what came without sleeping (a
    /// request that came has its readiness signal still pending: it arrived after the last read).
    /// Only for one request owed, a program's call at a time: with more, replies come often
    /// enough, and the programs making them need the processor more than a poll does.
    private func awaitReply(context: ChannelHandlerContext) {
        let socket = self.socketWatch.descriptor
        guard context.channel.isActive, socket >= 0, self.mayAwaitReply,
            let deadline = self.replyPolling.deadline(at: Self.now(), inBurst: self.polling.inBurst)
        else { return }
        self.watched.0 = pollfd(fd: self.device, events: Int16(POLLIN), revents: 0)
        self.watched.1 = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let found = withUnsafeMutableBytes(of: &self.watched) { pair in
            let descriptors = pair.baseAddress!.assumingMemoryBound(to: pollfd.self)
            while true {
                let ready = Glibc.poll(descriptors, 2, 0)
                if ready != 0 { return ready > 0 }
                if Self.now() >= deadline { return false }
            }
        }
        self.replyPolling.waitEnded(foundSomething: found)
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Serves `session` on `eventLoop` until it ends; nil, having served nothing, when the
    /// channel cannot be set up (the caller then runs libfuse's own loop).
    static func serve(
        _ session: FUSESession, polling: RequestPolling, replyPolling: ReplyPolling, statistics: ClientStatistics, socketWatch: ServerSocketWatch, on eventLoop: any EventLoop,
        requestSize: Int
    ) async -> Int32? {
        let device = session.duplicateDeviceDescriptor()
        guard device >= 0 else { return nil }
        // On the loop's own thread: the signal is blocked and directed there.
        let signals: Int32? = try? await eventLoop.submit { () -> Int32? in
            let signal = pohmelfs_readiness_signal()
            let descriptor = pohmelfs_block_into_signalfd(signal)
            guard descriptor >= 0 else { return nil }
            guard pohmelfs_signal_readiness(device, signal, pohmelfs_gettid()) == 0 else {
                close(descriptor)
                return nil
            }
            return descriptor
        }.get()
        guard let signals = signals ?? nil else {
            close(device)
            return nil
        }
        let channel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(.autoRead, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            FUSEEventLoopChannel(
                                session: session, polling: polling, replyPolling: replyPolling, statistics: statistics, socketWatch: socketWatch, device: device, readinessSignal: pohmelfs_readiness_signal(),
                                requestSize: requestSize))
                    }
                }
                .takingOwnershipOfDescriptor(input: signals)
                .get()
        } catch {
            close(signals)
            close(device)
            return nil
        }
        let status = await session.run(stop: { channel.close(promise: nil) }) {
            try? await channel.closeFuture.get()
            return Int32(0)
        }
        close(device)
        return status
    }
}

import NIOCore
import NIOPosix
import PohmelfsCore
import Synchronization

/// A bare TCP connection to a server, for sending bytes no well-behaved client would: it
/// decodes whatever frames come back but never answers or checks anything itself.
final class RawConnection: Sendable {
    /// Records the frames the server sends.
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = Frame
        let frames = Mutex<[Frame]>([])

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = Self.unwrapInboundIn(data)
            self.frames.withLock { $0.append(frame) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `port` on 127.0.0.1.
    static func connect(port: Int) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FrameAssemblyHandler())
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    /// Every frame the server has sent so far.
    var receivedFrames: [Frame] { self.collector.frames.withLock { $0 } }

    /// Sends `bytes` as they are.
    func send(_ bytes: ByteBuffer) async throws {
        try await self.channel.writeAndFlush(bytes)
    }

    /// Sends a well-formed HELLO and waits (up to `timeout`) for the server's answer.
    func hello(timeout: Duration = .seconds(5)) async throws -> Frame {
        let frame = FrameEncoding.request(
            HelloRequest(clientName: "raw"), caller: .root, transaction: TransactionID(1), allocator: self.channel.allocator)
        try await self.send(frame)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let first = self.collector.frames.withLock({ $0.first }) { return first }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw DeadlineExceeded(what: "HELLO reply")
    }

    /// Waits until the server has closed the connection; throws `DeadlineExceeded` otherwise.
    func waitForClose(timeout: Duration = .seconds(5)) async throws {
        let channel = self.channel
        try await withDeadline(timeout, "server closing the connection") { try await channel.closeFuture.get() }
    }

    /// Closes from this side (cleanup; harmless when already closed).
    func close() async {
        try? await self.channel.close()
    }
}

extension RawConnection {
    /// Sends `request` as transaction `transaction` and waits (up to `timeout`) for its reply,
    /// decoded; a failed reply throws its `Errno`.
    func call<R: WireRequest>(
        _ request: R, transaction: UInt64, caller: Caller = .root, timeout: Duration = .seconds(5)
    ) async throws -> R.Response {
        try await self.send(
            FrameEncoding.request(request, caller: caller, transaction: TransactionID(transaction), allocator: self.channel.allocator))
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let reply = self.receivedFrames.first(where: { $0.header.transaction == TransactionID(transaction) }) {
                if reply.header.status != 0 { throw Errno(Int32(reply.header.status)) }
                return try R.Response.decode(payload: reply.payload)
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw DeadlineExceeded(what: "reply to \(R.opcode)")
    }

    /// Ends the connection with a TCP reset (SO_LINGER 0, then close), as a killed client's
    /// kernel does when unread data or a half-sent frame is left behind.
    func reset() async {
        if let provider = self.channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        await self.close()
    }
}

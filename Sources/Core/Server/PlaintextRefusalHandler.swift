import Logging
import NIOCore

/// First in the pipeline of a TLS server: tells a client that speaks the plain protocol that
/// this server requires TLS, instead of leaving it with a failed TLS handshake it cannot read.
///
/// It looks at the first bytes a connection sends. A TLS record (anything but a pohmelfs frame
/// header) is handed on untouched and this handler leaves the pipeline. A plaintext pohmelfs
/// frame is answered, in plaintext, with `ENOKEY` (credentials required) for its transaction (the client then says the
/// server requires TLS and authentication), logged with the peer, and the connection closed.
/// Nothing in such a frame is acted on.
///
/// Threading: lives on its channel's event loop; not Sendable.
final class PlaintextRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let logger: Logger
    /// The bytes seen so far, while fewer than a frame header starting with the magic.
    private var buffered: ByteBuffer?
    private var refused = false

    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.refused else { return }
        var bytes = self.unwrapInboundIn(data)
        if var earlier = self.buffered {
            earlier.writeBuffer(&bytes)
            bytes = earlier
            self.buffered = nil
        }
        // "PHFS" starts with 'P'; a TLS record with its content type (0x16 for a handshake).
        guard bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == UInt8(ascii: "P") else {
            return self.handOver(context, bytes)
        }
        guard bytes.readableBytes >= MessageHeader.size else {
            self.buffered = bytes
            return
        }
        var header = bytes
        guard let parsed = try? MessageHeader(from: &header) else { return self.handOver(context, bytes) }
        self.refused = true
        let peer = context.remoteAddress?.displayForm ?? "unknown"
        self.logger.warning(
            "authentication failed: the client does not speak TLS; closing",
            metadata: [LogKey.peer: "\(peer)", LogKey.opcode: "\(parsed.opcode)"])
        // The TLS handler after us will report the connection closing mid-handshake: already said.
        context.fireUserInboundEventTriggered(PlaintextRefused())
        let reply = FrameEncoding.errorReply(
            .credentialsRequired, opcode: parsed.opcode, transaction: parsed.transaction, allocator: context.channel.allocator)
        context.writeAndFlush(self.wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func handOver(_ context: ChannelHandlerContext, _ bytes: ByteBuffer) {
        context.fireChannelRead(self.wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.buffered = nil
        context.fireChannelInactive()
    }
}

/// Sent down the pipeline when `PlaintextRefusalHandler` refused a plaintext client, so the
/// failed TLS handshake that follows is not logged a second time.
struct PlaintextRefused: Sendable {}

import NIOCore

/// What `StallWatchingDecoder` tells the connection handler, as a user inbound event.
enum FrameProgress: Sendable {
    /// Bytes of a frame have arrived but not the whole frame.
    case partial
    /// No frame is partly received any more (one was completed, or nothing is pending).
    case complete
}

/// `FrameDecoder`, reporting when a frame is left half-received so the connection handler can
/// time a client that stops sending in the middle of one (`ServerConnectionHandler`).
///
/// Reports `.partial` when bytes of an unfinished frame are buffered and `.complete` when a frame
/// finishes or the buffer empties; only changes are reported.
struct StallWatchingDecoder: ByteToMessageDecoder {
    typealias InboundOut = Frame

    private var inner: FrameDecoder
    private var partial = false

    init(maximumPayload: UInt32) {
        self.inner = FrameDecoder(maximumPayload: maximumPayload)
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let state = try self.inner.decode(context: context, buffer: &buffer)
        // A decoded frame resets the clock, even when the next one has already begun.
        if state == .continue {
            self.report(false, context)
        } else {
            self.report(buffer.readableBytes > 0, context)
        }
        return state
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        try self.inner.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    private mutating func report(_ partial: Bool, _ context: ChannelHandlerContext) {
        guard partial != self.partial else { return }
        self.partial = partial
        context.fireUserInboundEventTriggered(partial ? FrameProgress.partial : FrameProgress.complete)
    }
}

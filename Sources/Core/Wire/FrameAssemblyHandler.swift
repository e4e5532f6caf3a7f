import NIOCore

/// What `FrameAssemblyHandler` tells the next handler, when asked to, as a user inbound event.
public enum FrameProgress: Sendable {
    /// Bytes of a frame have arrived but not the whole frame.
    case partial
    /// No frame is partly received any more (one was completed, or nothing is pending).
    case complete
}

/// The pipeline's framing stage on both ends: bytes in, `Frame`s out, through `FrameAssembler`
/// (large payloads stay in the buffers the socket was read into).
///
/// A malformed header is fired as its `WireError` and the rest of the stream is ignored (the
/// next handler closes the connection). A stream that ends inside a frame fires a `.truncated`
/// `WireError` before `channelInactive`. With `reportsProgress` (the server), `FrameProgress`
/// events say when a frame is left half-received, so the server can time a client that stops
/// in the middle of one; a completed frame reports `.complete` even when the next one has begun,
/// which restarts that clock.
public final class FrameAssemblyHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Frame

    private var assembler: FrameAssembler
    private let reportsProgress: Bool
    private var reportedPartial = false
    private var failed = false

    public init(maximumPayload: UInt32 = ProtocolVersion.defaultMaximumPayload, reportsProgress: Bool = false) {
        self.assembler = FrameAssembler(maximumPayload: maximumPayload)
        self.reportsProgress = reportsProgress
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.failed else { return }
        // Frames are collected first and fired after: a frame's handling may close the channel,
        // which re-enters this handler (`channelInactive`) while the assembler is in use.
        var frames: [Frame] = []
        var failure: (any Error)?
        do {
            try self.assembler.feed(self.unwrapInboundIn(data)) { frames.append($0) }
        } catch {
            self.failed = true
            failure = error
        }
        for frame in frames {
            if self.reportsProgress { self.report(partial: false, context) }
            context.fireChannelRead(self.wrapInboundOut(frame))
        }
        if let failure { return context.fireErrorCaught(failure) }
        if self.reportsProgress { self.report(partial: self.assembler.holdsPartialFrame, context) }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if !self.failed, self.assembler.holdsPartialFrame {
            self.failed = true
            context.fireErrorCaught(
                WireError(.truncated, "connection closed inside a frame (\(self.assembler.heldBytes) bytes pending)"))
        }
        context.fireChannelInactive()
    }

    private func report(partial: Bool, _ context: ChannelHandlerContext) {
        guard partial != self.reportedPartial else { return }
        self.reportedPartial = partial
        context.fireUserInboundEventTriggered(partial ? FrameProgress.partial : FrameProgress.complete)
    }
}

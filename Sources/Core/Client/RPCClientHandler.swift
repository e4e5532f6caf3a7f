import NIOCore

/// One request on its way out: its frame, already encoded, and what to do with the answer.
struct OutboundRequest: Sendable {
    typealias Completion = @Sendable (Result<Frame, ClientError>) -> Void
    var transaction: TransactionID
    var frame: ByteBuffer
    var completion: Completion
}

/// Matches replies to requests by transaction id on one pipelined connection.
///
/// - A reply with an unknown id, or a frame the client never expects, is a protocol violation:
///   the connection closes.
/// - When the connection goes inactive every outstanding request fails with `connectionClosed`,
///   and any request written afterwards fails at once.
/// - Notices from the server go to `onNotice`.
///
/// Threading: lives on its channel's event loop; completions run there.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = ByteBuffer

    private var pending = PendingTransactions<OutboundRequest.Completion>()
    private var closedReason: ClientError?
    private let onNotice: (Frame) -> Void

    init(onNotice: @escaping (Frame) -> Void) {
        self.onNotice = onNotice
    }

    var outstanding: Int { self.pending.count }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        if let reason = self.closedReason {
            promise?.fail(reason)
            request.completion(.failure(reason))
            return
        }
        self.pending.insert(request.transaction, request.completion)
        context.write(self.wrapOutboundOut(request.frame), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        if frame.header.flags.contains(.notice) {
            return self.onNotice(frame)
        }
        guard frame.header.flags == .reply, let completion = self.pending.complete(frame.header.transaction) else {
            return self.fail(
                context,
                ClientError(.protocolViolation, "server sent \(frame.header.opcode) for unknown \(frame.header.transaction)"))
        }
        completion(.success(frame))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(ClientError(.connectionClosed, "connection to the server closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wireError = error as? WireError, wireError.code == .unsupportedVersion {
            self.fail(
                context,
                ClientError(
                    .versionMismatch,
                    "protocol version mismatch: this client speaks versions \(ProtocolVersion.oldestSupported)...\(ProtocolVersion.current) (\(wireError.message))"
                ))
        } else if let wireError = error as? WireError {
            self.fail(context, ClientError(.protocolViolation, "server sent an invalid frame: \(wireError)"))
        } else {
            self.fail(context, ClientError(.connectionClosed, "connection to the server failed: \(error)"))
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: ClientError) {
        self.failAll(reason)
        context.close(promise: nil)
    }

    private func failAll(_ reason: ClientError) {
        if self.closedReason == nil { self.closedReason = reason }
        for completion in self.pending.drain() { completion(.failure(reason)) }
    }
}

import Logging
import NIOCore
import NIOTLS

/// Right after the `NIOSSLServerHandler`: logs a failed TLS handshake (an untrusted or missing
/// client certificate, a client that does not trust the server, ...) as a warning with the peer
/// and the reason, and closes the connection. A TLS error after the handshake (a client that
/// vanished without closing TLS) is logged at info level only. Other errors pass on.
///
/// Threading: lives on its channel's event loop; not Sendable.
final class TLSFailureLogger: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let logger: Logger
    private var logged = false
    private var handshakeDone = false
    /// Taken when the connection becomes active: once it has failed the address may be gone.
    private var peer = "unknown"

    init(logger: Logger) { self.logger = logger }

    func channelActive(context: ChannelHandlerContext) {
        self.peer = context.remoteAddress?.displayForm ?? "unknown"
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent { self.handshakeDone = true }
        if event is PlaintextRefused { self.logged = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard TLSFailure.isTLS(error) else { return context.fireErrorCaught(error) }
        if !self.logged {
            self.logged = true
            let peer = context.remoteAddress?.displayForm ?? self.peer
            if self.handshakeDone {
                self.logger.info("TLS error, closing connection", metadata: [LogKey.peer: "\(peer)", LogKey.error: "\(error)"])
            } else {
                self.logger.warning(
                    "TLS handshake failed, closing connection",
                    metadata: [LogKey.peer: "\(peer)", LogKey.error: "\(TLSFailure.serverReason(error))"])
            }
        }
        context.close(promise: nil)
    }
}

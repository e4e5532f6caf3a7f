import NIOCore
import Synchronization

/// Remembers the first TLS error of a client connection, so that a request failed by the
/// connection closing can be explained (untrusted server, rejected certificate) instead of
/// reported as "connection closed". Sits right after the `NIOSSLClientHandler` and passes
/// everything on.
///
/// Threading: the handler lives on its channel's event loop; the recorded error is read by the
/// connecting task after the channel failed its request, through a `Mutex`.
final class TLSErrorRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let recorded = Mutex<(any Error)?>(nil)

    var error: (any Error)? { self.recorded.withLock { $0 } }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if TLSFailure.isTLS(error) {
            self.recorded.withLock { if $0 == nil { $0 = error } }
        }
        context.fireErrorCaught(error)
    }
}

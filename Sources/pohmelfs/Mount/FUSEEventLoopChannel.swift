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
/// The channel reads a duplicate of the session's descriptor (non-blocking, polled by the loop)
/// into buffers big enough for the largest request, and hands each to libfuse
/// (`fuse_session_process_buf`), which calls the operations on this thread. Nothing the
/// operations do on the request path blocks (they send and return; kernel notifications have
/// their own queue: `KernelNotifier`), so the loop is never held.
///
/// Experimental, off unless POHMELFS_FUSE_EVENT_LOOP=1: a request the kernel withdraws after
/// /dev/fuse polled readable (a signal interrupting a request not yet read) makes the read
/// return EAGAIN, which NIO's pipe channel asserts never happens after POLLIN. Release builds
/// (NIO's asserts compiled out) read again later, as they should; debug builds stop on the
/// assertion (test_interrupts.py's storm of signals shows it). Making it the default needs a
/// reader that tolerates spurious readiness (a channel of our own on the loop's selector, which
/// NIO does not offer publicly).
///
/// The channel closes when the kernel ends the session (read fails with ENODEV: unmounted), when
/// a request ends it (`fuse_session_exited`), or when `FUSESession.exit()` stops it.
final class FUSEEventLoopChannel: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let session: FUSESession

    private init(session: FUSESession) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = Self.unwrapInboundIn(data)
        request.withUnsafeReadableBytes { self.session.process($0) }
        if self.session.hasExited { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ENODEV once unmounted; anything else also ends the session (libfuse's loop does the same).
        context.close(promise: nil)
    }

    /// Serves `session` on `eventLoop` until it ends; nil, having served nothing, when the
    /// channel cannot be set up (the caller then runs libfuse's own loop).
    static func serve(_ session: FUSESession, on eventLoop: any EventLoop, requestSize: Int) async -> Int32? {
        let descriptor = session.duplicateDeviceDescriptor()
        guard descriptor >= 0 else { return nil }
        let channel: any Channel
        do {
            channel = try await NIOPipeBootstrap(group: eventLoop)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: requestSize))
                .channelOption(.autoRead, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(FUSEEventLoopChannel(session: session))
                    }
                }
                .takingOwnershipOfDescriptor(input: descriptor)
                .get()
        } catch {
            close(descriptor)
            return nil
        }
        return await session.run(stop: { channel.close(promise: nil) }) {
            try? await channel.closeFuture.get()
            return 0
        }
    }
}

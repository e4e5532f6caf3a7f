import CLinux
import NIOCore
import Synchronization

/// The descriptor of the client's current connection to the server, for a caller that waits for
/// a reply by polling the socket instead of sleeping in the event loop (`ReplyPolling`).
///
/// NIO does not hand out its sockets' descriptors, so `ServerSocketLocator` finds it when the
/// connection becomes active (the socket under /proc/self/fd whose two addresses are the
/// channel's) and forgets it when the connection goes inactive. Both happen on the connection's
/// event loop, and the mount runs one event loop, where the descriptor is also polled, so it is
/// never a closed or reused one there (NIO closes a socket and fires `channelInactive` in one
/// go). A poll on another thread would at worst watch an unrelated descriptor and stop early.
public final class ServerSocketWatch: Sendable {
    private let current = Atomic<Int32>(-1)

    public init() {}

    /// The connected socket, or -1 while there is none (or it was not found).
    public var descriptor: Int32 { self.current.load(ordering: .relaxed) }

    fileprivate func set(_ descriptor: Int32) { self.current.store(descriptor, ordering: .relaxed) }

    /// Forgets `descriptor` unless another connection has replaced it already.
    fileprivate func clear(_ descriptor: Int32) {
        _ = self.current.compareExchange(expected: descriptor, desired: -1, ordering: .relaxed)
    }
}

/// Keeps a `ServerSocketWatch` on its channel's socket: first in the client's pipeline.
final class ServerSocketLocator: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let watch: ServerSocketWatch
    private var found: Int32 = -1

    init(watch: ServerSocketWatch) {
        self.watch = watch
    }

    func channelActive(context: ChannelHandlerContext) {
        self.found = Self.find(local: context.channel.localAddress, peer: context.channel.remoteAddress)
        if self.found >= 0 { self.watch.set(self.found) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.found >= 0 { self.watch.clear(self.found) }
        self.found = -1
        context.fireChannelInactive()
    }

    /// The descriptor of the socket between `local` and `peer`, or -1.
    static func find(local: SocketAddress?, peer: SocketAddress?) -> Int32 {
        guard let local, let peer else { return -1 }
        return local.withSockAddr { localAddress, localLength in
            peer.withSockAddr { peerAddress, peerLength in
                pohmelfs_find_socket(localAddress, UInt32(localLength), peerAddress, UInt32(peerLength))
            }
        }
    }
}

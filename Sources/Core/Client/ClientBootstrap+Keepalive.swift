import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

extension ClientBootstrap {
    /// TCP keepalive on the client's connection: after 10 s of silence the kernel probes every
    /// 5 s and gives up after 3 unanswered probes, so a peer that vanished without a FIN (a
    /// crashed host, a cut cable) is noticed in about 25 s even when the client sends nothing.
    /// The protocol heartbeat (PING, `ResiliencePolicy`) notices sooner while requests wait.
    func keepalive() -> ClientBootstrap {
        self.channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_KEEPIDLE)), value: 10)
            .channelOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_KEEPINTVL)), value: 5)
            .channelOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_KEEPCNT)), value: 3)
    }
}

import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// The HTTP listener of `pohmelfs serve --metrics HOST:PORT`: NIO's HTTP/1.1 server pipeline
/// with `MetricsHTTPHandler`, answering `GET /metrics` with the Prometheus text of one
/// `ServerMetrics`. No web framework: a scrape is one request and one reply.
///
/// Bound by `start` (so a bad address or a port in use is reported before the server says
/// READY=1); as a `Service` it keeps serving until graceful shutdown, then closes. Put it
/// before the server in the `ServiceGroup`, so it is shut down after the server and the last
/// figures of a draining server can still be scraped.
public final class MetricsEndpoint: Service, Sendable {
    /// The port `--metrics HOST` listens on when none is given.
    public static let defaultPort = 9646

    public let localAddress: SocketAddress
    private let channel: any Channel
    private let logger: Logger

    private init(localAddress: SocketAddress, channel: any Channel, logger: Logger) {
        self.localAddress = localAddress
        self.channel = channel
        self.logger = logger
    }

    /// Binds `host:port` and starts answering scrapes of `metrics`. Throws `ServerError` with a
    /// one-line reason for a bad address or a port in use.
    public static func start(
        host: String, port: Int, metrics: ServerMetrics, group: any EventLoopGroup, logger: Logger
    ) async throws -> MetricsEndpoint {
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw ServerError(.badAddress, "cannot serve metrics on \(ServerAddress(host: host, port: port)): \(NetworkErrorText.describe(error))")
        }
        let render: @Sendable () -> String = {
            metrics.refresh()
            return metrics.registry.exposition()
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: render))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(to: address).get()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ServerError(.addressInUse, "cannot serve metrics on \(address.displayForm): the address is already in use")
        } catch {
            throw ServerError(.bindFailed, "cannot serve metrics on \(address.displayForm): \(NetworkErrorText.describe(error))")
        }
        let endpoint = MetricsEndpoint(
            localAddress: channel.localAddress ?? address, channel: channel, logger: logger)
        logger.info(
            "serving metrics",
            metadata: [LogKey.address: "http://\(endpoint.localAddress.displayForm)\(MetricsHTTPHandler.path)"])
        return endpoint
    }

    /// Serves until graceful shutdown (or cancellation), then closes the listener.
    public func run() async throws {
        try? await gracefulShutdown()
        await self.close()
    }

    /// Stops listening. Scrapes already accepted finish on their own connections.
    public func close() async {
        try? await self.channel.close()
    }
}

import Logging
import NIOCore
import ServiceLifecycle

/// `pohmelfs serve` as a swift-service-lifecycle `Service`: starts the server, reports READY=1
/// once listening, keeps STATUS= (and WATCHDOG=1 when asked) current, and on graceful shutdown
/// (SIGTERM, SIGINT) sends STOPPING=1 and finishes the requests in flight before returning.
public struct ServerService<Store: BackingStore>: Service {
    let server: PohmelfsServer<Store>
    let notifier: SystemdNotifier
    let logger: Logger
    let statusInterval: Duration

    public init(server: PohmelfsServer<Store>, notifier: SystemdNotifier, logger: Logger, statusInterval: Duration = .seconds(5)) {
        self.server = server
        self.notifier = notifier
        self.logger = logger
        self.statusInterval = statusInterval
    }

    public func run() async throws {
        self.notifier.ready(status: "listening on \(self.server.localAddress.displayForm); 0 clients")
        let interval = min(self.notifier.watchdogInterval.map { $0 / 2 } ?? self.statusInterval, self.statusInterval)
        // Wake up periodically for STATUS= and WATCHDOG=1 until shutdown is requested.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                self.notifier.status("listening on \(self.server.localAddress.displayForm); \(self.server.statistics.summary)")
                if self.notifier.watchdogInterval != nil { self.notifier.watchdog() }
                try? await Task.sleep(for: interval)
            }
        }
        self.notifier.stopping()
        self.notifier.status("stopping: finishing \(self.server.statistics.inFlight.load(ordering: .relaxed)) requests")
        self.logger.info("shutting down")
        await self.server.shutdown()
    }
}

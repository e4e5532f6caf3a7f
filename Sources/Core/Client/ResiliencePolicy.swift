import Logging

/// How a client rides out a dropped connection or a restarted server (`RPCClient.connect`'s
/// `resilience`): how it notices, how fast it comes back, and how long a request may wait.
///
/// Without one, a client fails its outstanding requests when its connection closes (tools and
/// tests that want to see the failure). With one (every mount), it keeps each request until it
/// is answered, reconnects, resumes or renews its session, and resends.
public struct ResiliencePolicy: Sendable {
    /// The first reconnect waits this long; each failed attempt doubles it, up to `maximumBackoff`.
    public var initialBackoff: Duration = .milliseconds(50)
    public var maximumBackoff: Duration = .seconds(2)
    /// A connection quiet this long gets a PING.
    public var heartbeatInterval: Duration = .seconds(5)
    /// A connection that has answered nothing (not even PING) for this long is closed and
    /// replaced. Generous: a loaded server may take a while, and a silent network cut shorter than
    /// this is ridden out by TCP itself.
    public var heartbeatTimeout: Duration = .seconds(20)
    /// A new connection whose HELLO is not answered this long is closed and another tried.
    public var helloTimeout: Duration = .seconds(10)
    /// While the server is away, the first "not responding, still trying" line comes this long
    /// after the connection was lost, the next ones at doubling intervals up to
    /// `outageReportEvery`.
    public var outageReportFirst: Duration = .seconds(5)
    public var outageReportEvery: Duration = .seconds(60)
    /// nil: hard, a request waits for the server for ever (a signal still interrupts the
    /// waiting call). Otherwise soft: once a request has waited this long with nothing heard
    /// from the server meanwhile, it and every waiting request fail with EIO, and new ones fail
    /// at once until the server is heard from again (`ResilientConnection.startSoftTimer`).
    public var softTimeout: Duration?
    /// Called when a reconnect had to start a new session (the server restarted and forgot the
    /// old one), before files are reopened and locks reclaimed: whatever else the old session
    /// held on the server, such as write-back grants, must be given up by the caller.
    public var onNewSession: @Sendable () -> Void = {}
    /// Called on every reconnection, resumed session or new, before anything is resent: the
    /// server dropped the session's leases while it was away (`LeaseState.renew`).
    public var onReconnect: @Sendable () -> Void = {}
    public var logger: Logger

    public init(softTimeout: Duration? = nil, logger: Logger) {
        self.softTimeout = softTimeout
        self.logger = logger
    }

    /// The wait before reconnect attempt `attempt` (1, 2, ...).
    func backoff(attempt: Int) -> Duration {
        var delay = self.initialBackoff
        for _ in 1..<max(1, attempt) where delay < self.maximumBackoff { delay *= 2 }
        return min(delay, self.maximumBackoff)
    }
}

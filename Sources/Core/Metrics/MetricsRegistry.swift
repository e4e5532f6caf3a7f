import CoreMetrics
import Prometheus

/// Where the server's metrics live and how they are written out: a swift-prometheus registry,
/// the swift-metrics factory that records into it, and the Prometheus text exposition.
///
/// One registry per server, never the process-wide `MetricsSystem` (bootstrapping that is a
/// once-per-process act that tests cannot repeat). Code that records figures uses the
/// swift-metrics API with `factory`; only this file knows the backend is Prometheus.
public final class MetricsRegistry: Sendable {
    /// Request latencies span a cached GETATTR (tens of microseconds) to a WRITE waiting for
    /// other clients to drop their pages (up to the invalidation timeout, seconds).
    public static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .seconds(1), .seconds(5),
    ]

    private let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory whose counters, gauges and timers land in this registry.
    public let factory: any CoreMetrics.MetricsFactory

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.registry = registry
        self.factory = factory
    }

    /// Every metric in the Prometheus text format (version 0.0.4), with a `# HELP` line before
    /// each `# TYPE` line of a `MetricName` (swift-metrics has no place for help text).
    public func exposition() -> String {
        let text = self.registry.emitToString()
        var output = ""
        output.reserveCapacity(text.utf8.count + 1024)
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                if let metric = MetricName(rawValue: String(name)) {
                    output += "# HELP \(name) \(metric.help)\n"
                }
            }
            output += line
            output += "\n"
        }
        return output
    }
}

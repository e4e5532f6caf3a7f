import Metrics
import NIOCore
import Synchronization

/// The server's figures for Prometheus (`pohmelfs serve --metrics`), recorded through
/// swift-metrics into a `MetricsRegistry`.
///
/// Two kinds of figure:
/// - Per request, on the hot path: `requestCompleted` counts the request by opcode, records
///   its latency, and adds the file bytes a READ returned or a WRITE wrote. Every metric is
///   created up front for every request opcode, so recording takes no lock of ours and a
///   dashboard sees every opcode from the first scrape.
/// - State, on scrape: `refresh()` reads connected clients, requests in flight, the lock
///   tables and the invalidation count from the running server (`attach`) into gauges and
///   counters just before the exposition is written (`ServerMetrics+Gauges.swift`).
///
/// Thread-safe: recording may happen on any thread; the swift-metrics handles synchronize
/// themselves and `sources` has its own mutex.
public final class ServerMetrics: Sendable {
    /// The metrics of one request opcode.
    struct OpcodeMetrics: Sendable {
        let requests: Counter
        let errors: Counter
        let duration: Timer
    }

    public let registry: MetricsRegistry
    /// Written once in `init`, read-only afterwards: needs no lock.
    let byOpcode: [Opcode: OpcodeMetrics]
    let bytesRead: Counter
    let bytesWritten: Counter
    let connectedClients: Gauge
    let requestsInFlight: Gauge
    let protocolErrors: Counter
    let invalidationsSent: Counter
    let locksHeld: [LockKind: Gauge]
    let locksWaiting: [LockKind: Gauge]
    /// What `refresh()` reads, and the last values of the server's own monotonic counters (to
    /// add only what is new). Protected by its mutex.
    let sources = Mutex(Sources())

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        let factory = registry.factory
        self.registry = registry
        var byOpcode: [Opcode: OpcodeMetrics] = [:]
        // HELLO opens a session rather than asking for work: the connection gauge covers it.
        for opcode in Opcode.allCases where opcode.descriptor.direction == .request && opcode != .hello {
            let dimensions = [(MetricName.opcodeLabel, "\(opcode)")]
            byOpcode[opcode] = OpcodeMetrics(
                requests: Counter(label: MetricName.requests.rawValue, dimensions: dimensions, factory: factory),
                errors: Counter(label: MetricName.requestErrors.rawValue, dimensions: dimensions, factory: factory),
                duration: Timer(label: MetricName.requestDuration.rawValue, dimensions: dimensions, factory: factory))
        }
        self.byOpcode = byOpcode
        self.bytesRead = Counter(label: MetricName.bytesRead.rawValue, factory: factory)
        self.bytesWritten = Counter(label: MetricName.bytesWritten.rawValue, factory: factory)
        self.connectedClients = Gauge(label: MetricName.connectedClients.rawValue, factory: factory)
        self.requestsInFlight = Gauge(label: MetricName.requestsInFlight.rawValue, factory: factory)
        self.protocolErrors = Counter(label: MetricName.protocolErrors.rawValue, factory: factory)
        self.invalidationsSent = Counter(label: MetricName.invalidationsSent.rawValue, factory: factory)
        var held: [LockKind: Gauge] = [:]
        var waiting: [LockKind: Gauge] = [:]
        for kind in LockKind.allCases {
            let dimensions = [(MetricName.kindLabel, kind.rawValue)]
            held[kind] = Gauge(label: MetricName.locksHeld.rawValue, dimensions: dimensions, factory: factory)
            waiting[kind] = Gauge(label: MetricName.locksWaiting.rawValue, dimensions: dimensions, factory: factory)
        }
        self.locksHeld = held
        self.locksWaiting = waiting
        // Zero, not absent, before the first refresh.
        self.refresh()
    }

    /// A clock reading for `requestCompleted(_:reply:since:)`: monotonic nanoseconds.
    public static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// A request has been answered with `reply` (the whole frame, header first), `since` being
    /// `now()` when it arrived. Reads the outcome from the reply's header: its status, and for
    /// READ the data length, for WRITE the count written.
    public func requestCompleted(_ opcode: Opcode, reply: ByteBuffer, since start: UInt64) {
        guard let metrics = self.byOpcode[opcode] else { return }
        let elapsed = Self.now() &- start
        metrics.requests.increment()
        metrics.duration.recordNanoseconds(Int64(clamping: elapsed))
        let base = reply.readerIndex
        guard
            let status = reply.getInteger(at: base + 16, endianness: .little, as: UInt32.self),
            let payloadLength = reply.getInteger(at: base + 20, endianness: .little, as: UInt32.self)
        else { return }
        guard status == 0 else {
            metrics.errors.increment()
            return
        }
        switch opcode {
        case .read:
            // The payload is a u32 length, then the data.
            if payloadLength >= 4 { self.bytesRead.increment(by: Int64(payloadLength - 4)) }
        case .write:
            if let count = reply.getInteger(at: base + MessageHeader.size, endianness: .little, as: UInt64.self) {
                self.bytesWritten.increment(by: Int64(clamping: count))
            }
        default:
            break
        }
    }
}

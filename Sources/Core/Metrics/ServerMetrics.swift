import Metrics
#if canImport(Glibc)
import Glibc
#endif
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
        let duration: Timer
    }

    /// A failure or expected negative answer: which counter, by opcode and errno.
    struct OutcomeKey: Hashable, Sendable {
        var opcode: Opcode
        var errno: Int32
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
    /// Counters by (opcode, errno), made on first use: errors and negative answers. Protected by
    /// its mutex (taken only on a failed request).
    let outcomes = Mutex<[OutcomeKey: Counter]>([:])
    let factory: any MetricsFactory
    let buildInfo: Gauge
    let process: ProcessMetrics
    /// What `refresh()` reads, and the last values of the server's own monotonic counters (to
    /// add only what is new). Protected by its mutex.
    let sources = Mutex(Sources())

    public init(registry: MetricsRegistry = MetricsRegistry()) {
        let factory = registry.factory
        self.registry = registry
        self.factory = factory
        var byOpcode: [Opcode: OpcodeMetrics] = [:]
        // HELLO opens a session rather than asking for work: the connection gauge covers it.
        for opcode in Opcode.allCases where opcode.descriptor.direction == .request && opcode != .hello {
            let dimensions = [(MetricName.opcodeLabel, "\(opcode)")]
            byOpcode[opcode] = OpcodeMetrics(
                requests: Counter(label: MetricName.requests.rawValue, dimensions: dimensions, factory: factory),
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
        self.buildInfo = Gauge(
            label: MetricName.buildInfo.rawValue, dimensions: [("version", BuildInfo.version)], factory: factory)
        self.buildInfo.record(1)
        self.process = ProcessMetrics(factory: factory)
        // Every series a dashboard or alert names exists from the first scrape: EIO for every
        // opcode, and each expected negative answer.
        for opcode in byOpcode.keys {
            _ = self.outcomeCounter(OutcomeKey(opcode: opcode, errno: EIO))
        }
        for (opcode, errnos) in RequestOutcome.expectedNegatives where byOpcode[opcode] != nil {
            for errno in errnos { _ = self.outcomeCounter(OutcomeKey(opcode: opcode, errno: errno)) }
        }
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
            self.outcomeCounter(OutcomeKey(opcode: opcode, errno: Errno(wire: status).rawValue)).increment()
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

    /// The counter for `key`: `pohmelfs_request_negative_answers_total` when the answer is an
    /// expected one, else `pohmelfs_request_errors_total`, labelled with opcode and errno name.
    func outcomeCounter(_ key: OutcomeKey) -> Counter {
        self.outcomes.withLock { counters in
            if let counter = counters[key] { return counter }
            let name =
                RequestOutcome.isExpectedNegative(key.opcode, errno: key.errno)
                ? MetricName.negativeAnswers : MetricName.requestErrors
            let counter = Counter(
                label: name.rawValue,
                dimensions: [(MetricName.opcodeLabel, "\(key.opcode)"), (MetricName.errnoLabel, Errno(key.errno).name)],
                factory: self.factory)
            counters[key] = counter
            return counter
        }
    }
}

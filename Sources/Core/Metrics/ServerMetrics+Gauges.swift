import Metrics
import Synchronization

/// The figures that describe the server's state rather than single requests, read from the
/// running server when Prometheus scrapes.
extension ServerMetrics {
    /// Where `refresh()` reads from, and what it last saw of the server's own counters.
    struct Sources: Sendable {
        var statistics: ServerStatistics?
        var locks: LockService?
        var coherence: CacheCoherence?
        /// `statistics.protocolErrors` at the last refresh.
        var protocolErrorsSeen: UInt64 = 0
        /// `coherence.invalidationsSent` at the last refresh.
        var invalidationsSeen: UInt64 = 0
    }

    /// Called by `PohmelfsServer.start` with the parts of the server that hold the figures.
    func attach(statistics: ServerStatistics, locks: LockService, coherence: CacheCoherence) {
        self.sources.withLock {
            $0.statistics = statistics
            $0.locks = locks
            $0.coherence = coherence
        }
    }

    /// Brings the state figures up to date; the metrics endpoint calls it before every scrape.
    public func refresh() {
        let (statistics, locks, coherence) = self.sources.withLock { ($0.statistics, $0.locks, $0.coherence) }
        self.process.refresh()
        self.connectedClients.record(statistics?.connections.load(ordering: .relaxed) ?? 0)
        self.requestsInFlight.record(statistics?.inFlight.load(ordering: .relaxed) ?? 0)

        var held = Dictionary(uniqueKeysWithValues: LockKind.allCases.map { ($0, 0) })
        var waiting = held
        if let locks {
            // Each snapshot copies one table under its manager's mutex; counting happens after.
            for entry in locks.records.snapshot().entries + locks.transactions.snapshot().entries {
                if entry.isHeld { held[entry.kind, default: 0] += 1 } else { waiting[entry.kind, default: 0] += 1 }
            }
        }
        for kind in LockKind.allCases {
            self.locksHeld[kind]?.record(held[kind] ?? 0)
            self.locksWaiting[kind]?.record(waiting[kind] ?? 0)
        }

        // The server counts these itself; add what is new since the last refresh.
        let protocolErrors = statistics?.protocolErrors.load(ordering: .relaxed) ?? 0
        let invalidations = coherence?.invalidationsSent.load(ordering: .relaxed) ?? 0
        let (newErrors, newInvalidations) = self.sources.withLock { sources -> (UInt64, UInt64) in
            defer {
                sources.protocolErrorsSeen = max(sources.protocolErrorsSeen, protocolErrors)
                sources.invalidationsSeen = max(sources.invalidationsSeen, invalidations)
            }
            return (
                protocolErrors > sources.protocolErrorsSeen ? protocolErrors - sources.protocolErrorsSeen : 0,
                invalidations > sources.invalidationsSeen ? invalidations - sources.invalidationsSeen : 0
            )
        }
        if newErrors > 0 { self.protocolErrors.increment(by: Int64(clamping: newErrors)) }
        if newInvalidations > 0 { self.invalidationsSent.increment(by: Int64(clamping: newInvalidations)) }
    }
}

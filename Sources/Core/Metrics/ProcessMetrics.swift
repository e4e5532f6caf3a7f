import Foundation
import Metrics
import Synchronization

/// The standard `process_*` metrics of Prometheus clients (CPU seconds, resident and virtual
/// memory, start time, open and maximum file descriptors), read from /proc/self on every scrape.
final class ProcessMetrics: Sendable {
    private let cpuSeconds: FloatingPointCounter
    private let resident: Gauge
    private let virtual: Gauge
    private let start: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge
    /// CPU seconds at the last refresh (the counter only adds). Protected by its mutex.
    private let cpuSeen = Mutex<Double>(0)

    init(factory: any MetricsFactory) {
        self.cpuSeconds = FloatingPointCounter(label: MetricName.processCPU.rawValue, dimensions: [], factory: factory)
        self.resident = Gauge(label: MetricName.processResident.rawValue, factory: factory)
        self.virtual = Gauge(label: MetricName.processVirtual.rawValue, factory: factory)
        self.start = Gauge(label: MetricName.processStart.rawValue, factory: factory)
        self.openFDs = Gauge(label: MetricName.processOpenFDs.rawValue, factory: factory)
        self.maxFDs = Gauge(label: MetricName.processMaxFDs.rawValue, factory: factory)
    }

    func refresh() {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // Fields after "(comm)": state is field 3, so index i here is field i + 3.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double { Double(fields[number - 3]) ?? 0 }
            if fields.count > 21 {
                let cpu = (field(14) + field(15)) / ticks
                let added = self.cpuSeen.withLock { seen -> Double in
                    defer { seen = max(seen, cpu) }
                    return max(0, cpu - seen)
                }
                if added > 0 { self.cpuSeconds.increment(by: added) }
                self.virtual.record(field(23))
                self.resident.record(field(24) * pageSize)
                if let boot = Self.bootTime() { self.start.record(boot + field(22) / ticks) }
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            self.openFDs.record(entries.count)
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 { self.maxFDs.record(Double(limit.rlim_cur)) }
    }

    /// Seconds since the epoch at boot (`btime` in /proc/stat).
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}

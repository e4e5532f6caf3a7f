#if canImport(Glibc)
    import Glibc
#endif

/// A process whose CPU time the bench reports beside a target's figures (`--cpu TARGET=ROLE:PID`):
/// the pohmelfs server and client of a mount, passthrough_ll's daemon, sshfs. CPU per operation
/// shows a change in efficiency that the machine's noise hides in the rate.
public struct WatchedProcess: Sendable, Equatable, Codable, CustomStringConvertible {
    /// What the process is to the target: "server", "client", "daemon"...
    public var role: String
    public var pid: Int32

    public init(role: String, pid: Int32) {
        self.role = role
        self.pid = pid
    }

    public var description: String { "\(self.role):\(self.pid)" }

    /// Parses `TARGET=ROLE:PID[,ROLE:PID...]`; nil with a reason the user can act on.
    public static func parse(_ text: String) -> Result<(target: String, processes: [WatchedProcess]), BenchError> {
        guard let equals = text.lastIndex(of: "="), equals != text.startIndex else {
            return .failure(BenchError(.invalidSetting, "--cpu \(text): expected TARGET=ROLE:PID[,ROLE:PID...]"))
        }
        var processes: [WatchedProcess] = []
        for item in text[text.index(after: equals)...].split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2, !parts[0].isEmpty, let pid = Int32(parts[1]), pid > 0 else {
                return .failure(BenchError(.invalidSetting, "--cpu \(text): '\(item)' is not ROLE:PID"))
            }
            processes.append(WatchedProcess(role: String(parts[0]), pid: pid))
        }
        guard !processes.isEmpty else {
            return .failure(BenchError(.invalidSetting, "--cpu \(text): no ROLE:PID after '='"))
        }
        return .success((String(text[..<equals]), processes))
    }
}

/// CPU time of processes from `/proc/PID/stat`.
enum ProcessCPU {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// User plus system time of every thread of `pid` so far, in seconds; nil if it cannot be read
    /// (the process is gone). Resolution: one clock tick (10 ms), so a figure needs a measurement
    /// of at least a few seconds to mean much.
    static func seconds(of pid: Int32) -> Double? {
        guard let text = try? MountTable.readSmallFile("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Self.ticksPerSecond
    }
}

/// The CPU time of a target's watched processes across one measured section.
struct CPUSection {
    private let processes: [WatchedProcess]
    private let start: [Double?]

    /// Starts the section now.
    init(_ processes: [WatchedProcess]) {
        self.processes = processes
        self.start = processes.map { ProcessCPU.seconds(of: $0.pid) }
    }

    /// Ends the section: microseconds of CPU per operation by role, for `operations` operations
    /// (roles whose process could not be read either time are left out).
    func perOperation(_ operations: Int) -> [String: Double] {
        guard operations > 0 else { return [:] }
        var result: [String: Double] = [:]
        for (process, start) in zip(self.processes, self.start) {
            guard let start, let end = ProcessCPU.seconds(of: process.pid) else { continue }
            result[process.role, default: 0] += (end - start) * 1e6 / Double(operations)
        }
        return result
    }
}

extension Measurement {
    /// Records the CPU per operation of `section` for `metric` (nothing without watched processes).
    mutating func recordCPU(_ metric: String, _ section: CPUSection, operations: Int) {
        let figures = section.perOperation(operations)
        if !figures.isEmpty { self.cpu[metric] = figures }
    }
}

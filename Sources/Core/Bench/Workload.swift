/// One thing the bench measures. The raw values are stable: they name workloads on the command
/// line (`--workload copy-in`) and in the JSON report.
///
/// The cases are declared in the order the bench runs them within one run: the large file is
/// written before it is read, and the tree before it is copied out.
public enum Workload: String, CaseIterable, Codable, Sendable, Comparable {
    /// Write `--size` bytes from memory in 1 MiB writes, `fsync` included (MB/s).
    case copyIn = "copy-in"
    /// Read the large file back in 1 MiB reads, caches dropped first when root (MB/s).
    case copyOut = "copy-out"
    /// Read it again right after an untimed read: the page cache's figure (MB/s).
    case copyOutCached = "copy-out-cached"
    /// Random 4 KiB reads of the large file at concurrency 1 and 16, `O_DIRECT` where possible (IOPS).
    case randomRead = "random-read"
    /// Create a generated source-like tree from memory, `syncfs` included (s, files/s).
    case treeIn = "tree-in"
    /// Walk the tree, `stat` every entry and read every file (s, files/s).
    case treeOut = "tree-out"
    /// Create, stat, rename and unlink `--files` empty files (ops/s each).
    case metadata = "metadata"
    /// Two overlapping 1 MiB `O_DIRECT` writers and a reader counting torn reads (counts).
    case checkAtomic = "check-atomic"

    /// Every workload but `check-atomic`, which is asked for with `--check-atomic`.
    public static let defaults: [Workload] = Workload.allCases.filter { $0 != .checkAtomic }

    public static func < (lhs: Workload, rhs: Workload) -> Bool {
        Workload.allCases.firstIndex(of: lhs)! < Workload.allCases.firstIndex(of: rhs)!
    }

    /// The figures this workload produces, in display order.
    public var metrics: [Metric] {
        switch self {
        case .copyIn, .copyOut, .copyOutCached:
            return [Metric(self, "throughput", unit: "MB/s", better: .higher)]
        case .randomRead:
            return [
                Metric(self, "qd1", unit: "IOPS", better: .higher),
                Metric(self, "qd16", unit: "IOPS", better: .higher),
            ]
        case .treeIn, .treeOut:
            return [
                Metric(self, "elapsed", unit: "s", better: .lower),
                Metric(self, "rate", unit: "files/s", better: .higher, charted: false),
            ]
        case .metadata:
            return ["create", "stat", "rename", "unlink"].map { Metric(self, $0, unit: "ops/s", better: .higher) }
        case .checkAtomic:
            return [
                Metric(self, "reads", unit: "reads", better: .none),
                Metric(self, "torn-reads", unit: "reads", better: .none),
                Metric(self, "writes", unit: "writes", better: .none),
            ]
        }
    }

    /// Whether the workload needs the large file (`--size`).
    var usesLargeFile: Bool { self == .copyIn || self == .copyOut || self == .copyOutCached || self == .randomRead }

    /// Whether the workload needs the generated tree.
    var usesTree: Bool { self == .treeIn || self == .treeOut }
}

/// One figure a workload produces: its name, unit, and which direction is better.
public struct Metric: Hashable, Codable, Sendable {
    /// Which way a figure improves; decides the sense of the ratio to the first target.
    public enum Better: String, Codable, Sendable {
        /// Throughput, IOPS, ops/s: ratio = value ÷ first target's value.
        case higher
        /// Seconds: ratio = first target's value ÷ value, so that above 1 always means faster.
        case lower
        /// Counts with no better direction (the atomicity check): no ratio.
        case none
    }

    public var workload: Workload
    public var name: String
    public var unit: String
    public var better: Better
    /// Whether the SVG chart draws this figure (one of a pair that always give the same ratio is
    /// left out, such as a tree's files/s next to its seconds).
    public var charted: Bool

    public init(_ workload: Workload, _ name: String, unit: String, better: Better, charted: Bool = true) {
        self.workload = workload
        self.name = name
        self.unit = unit
        self.better = better
        self.charted = charted && better != .none
    }

    /// "copy-in throughput", "metadata create".
    public var label: String { "\(self.workload.rawValue) \(self.name)" }

    /// The speed-up of `value` over `first` (above 1 is better), or nil when there is none.
    public func ratio(_ value: Double, toFirst first: Double) -> Double? {
        switch self.better {
        case .higher: return first > 0 ? value / first : nil
        case .lower: return value > 0 ? first / value : nil
        case .none: return nil
        }
    }
}

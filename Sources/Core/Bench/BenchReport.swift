/// The result of a bench: what `--json` prints, what the table and the chart are drawn from.
///
/// The JSON form is a stable interface for scripts, documented in <doc:BenchJSON>. Field names
/// never change meaning within a ``schemaVersion``; new fields may be added. Optional values are
/// written as `null`, never left out, so every documented key is always present.
public struct BenchReport: Codable, Sendable, Equatable {
    /// Always "pohmelfs-bench".
    public static let schemaName = "pohmelfs-bench"
    /// Bumped when a field changes meaning or disappears.
    public static let currentSchemaVersion = 1

    public var schema: String
    public var schemaVersion: Int
    public var tool: Tool
    /// When the bench started, UTC, ISO 8601 ("2025-11-27T03:48:00Z").
    public var startedAt: String
    /// Wall-clock seconds of the whole bench, preparation and cleanup included.
    public var durationSeconds: Double
    public var host: Host
    public var settings: Settings
    public var targets: [BenchTarget]
    /// One entry per (workload, metric, target) that produced at least one sample, in run order
    /// of the workloads, then metric order, then target order.
    public var figures: [Figure]
    public var verification: Verification
    /// Workloads that failed on a target (the bench goes on with the others).
    public var errors: [Failure]
    /// True when the bench was stopped by SIGINT or SIGTERM before finishing.
    public var interrupted: Bool
    /// True when every byte verified, nothing failed and the bench was not interrupted.
    public var passed: Bool

    /// The program that produced the report.
    public struct Tool: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    /// The machine the bench ran on.
    public struct Host: Codable, Sendable, Equatable {
        /// `uname -r`, `uname -m`.
        public var kernel: String
        public var machine: String
        /// Online processors.
        public var cores: Int
        /// Whether the bench ran as root (cold reads need it).
        public var root: Bool
        public init(kernel: String, machine: String, cores: Int, root: Bool) {
            self.kernel = kernel
            self.machine = machine
            self.cores = cores
            self.root = root
        }
    }

    /// The settings the figures were measured with.
    public struct Settings: Codable, Sendable, Equatable {
        public var sizeBytes: Int
        public var files: Int
        public var runs: Int
        public var jobs: Int
        public var seed: UInt64
        public var workloads: [Workload]
        public var keep: Bool

        public init(_ configuration: BenchConfiguration) {
            self.sizeBytes = configuration.size
            self.files = configuration.files
            self.runs = configuration.runs
            self.jobs = configuration.jobs
            self.seed = configuration.seed
            self.workloads = configuration.workloads
            self.keep = configuration.keep
        }
    }

    /// One figure of one workload on one target, over all runs.
    public struct Figure: Codable, Sendable, Equatable {
        public var workload: Workload
        public var metric: String
        public var unit: String
        public var better: Metric.Better
        /// Index into ``BenchReport/targets``.
        public var target: Int
        /// One value per run, in run order.
        public var samples: [Double]
        public var median: Double
        public var min: Double
        public var max: Double
        /// Speed-up against the first target's median (above 1 = better than the first target);
        /// null when the first target has no such figure or the metric has no direction.
        public var ratioToFirst: Double?
        /// How the figure was measured when that matters ("warm: caches not dropped (not root)").
        public var notes: [String]
        /// Microseconds of CPU per operation of each watched process of the target (`--cpu`), by
        /// role, median over the runs; nil when none was watched or the workload does not count
        /// operations. An operation is one read (random-read), one MiB (the copies), one metadata
        /// operation (metadata).
        public var cpuPerOperation: [String: Double]?

        public init(
            metric: Metric, target: Int, samples: [Double], statistics: Statistics, ratioToFirst: Double?,
            notes: [String]
        ) {
            self.workload = metric.workload
            self.metric = metric.name
            self.unit = metric.unit
            self.better = metric.better
            self.target = target
            self.samples = samples
            self.median = statistics.median
            self.min = statistics.minimum
            self.max = statistics.maximum
            self.ratioToFirst = ratioToFirst
            self.notes = notes
        }

        enum CodingKeys: String, CodingKey {
            case workload, metric, unit, better, target, samples, median, min, max, ratioToFirst, notes
            case cpuPerOperation
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.workload, forKey: .workload)
            try container.encode(self.metric, forKey: .metric)
            try container.encode(self.unit, forKey: .unit)
            try container.encode(self.better, forKey: .better)
            try container.encode(self.target, forKey: .target)
            try container.encode(self.samples, forKey: .samples)
            try container.encode(self.median, forKey: .median)
            try container.encode(self.min, forKey: .min)
            try container.encode(self.max, forKey: .max)
            // Explicit null rather than a missing key: the schema promises every key.
            try container.encode(self.ratioToFirst, forKey: .ratioToFirst)
            try container.encode(self.notes, forKey: .notes)
            // Only where processes were watched (`--cpu`): reports without it keep their shape.
            try container.encodeIfPresent(self.cpuPerOperation, forKey: .cpuPerOperation)
        }

        /// The metric this figure reports.
        public var metricDefinition: Metric? { self.workload.metrics.first { $0.name == self.metric } }
    }

    /// What checksum verification covered and found.
    public struct Verification: Codable, Sendable, Equatable {
        /// Bytes read back and compared with what was written, over all targets and runs.
        public var verifiedBytes: Int
        /// Files whose content (or, for metadata, whose existence and size) was checked.
        public var verifiedFiles: Int
        public var mismatches: [VerificationMismatch]
        public init(verifiedBytes: Int, verifiedFiles: Int, mismatches: [VerificationMismatch]) {
            self.verifiedBytes = verifiedBytes
            self.verifiedFiles = verifiedFiles
            self.mismatches = mismatches
        }
    }

    /// Content that did not read back as written.
    public struct VerificationMismatch: Codable, Sendable, Equatable {
        public var target: Int
        public var workload: Workload
        public var run: Int
        /// Relative to the bench's working directory in the target.
        public var path: String
        public var detail: String
        public init(target: Int, workload: Workload, run: Int, path: String, detail: String) {
            self.target = target
            self.workload = workload
            self.run = run
            self.path = path
            self.detail = detail
        }
    }

    /// A workload that failed on a target (or a cleanup that failed: workload and run null).
    public struct Failure: Codable, Sendable, Equatable {
        public var target: Int
        public var workload: Workload?
        public var run: Int?
        public var message: String
        public init(target: Int, workload: Workload?, run: Int?, message: String) {
            self.target = target
            self.workload = workload
            self.run = run
            self.message = message
        }

        enum CodingKeys: String, CodingKey { case target, workload, run, message }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.target, forKey: .target)
            try container.encode(self.workload, forKey: .workload)
            try container.encode(self.run, forKey: .run)
            try container.encode(self.message, forKey: .message)
        }
    }

    public init(
        tool: Tool, startedAt: String, durationSeconds: Double, host: Host, settings: Settings, targets: [BenchTarget],
        figures: [Figure], verification: Verification, errors: [Failure], interrupted: Bool
    ) {
        self.schema = Self.schemaName
        self.schemaVersion = Self.currentSchemaVersion
        self.tool = tool
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.host = host
        self.settings = settings
        self.targets = targets
        self.figures = figures
        self.verification = verification
        self.errors = errors
        self.interrupted = interrupted
        self.passed = verification.mismatches.isEmpty && errors.isEmpty && !interrupted
    }

    /// The figure for `metric` on target `target`, if measured.
    public func figure(_ metric: Metric, target: Int) -> Figure? {
        self.figures.first { $0.workload == metric.workload && $0.metric == metric.name && $0.target == target }
    }
}

/// Everything a bench run is asked to do: the command line, validated.
public struct BenchConfiguration: Sendable, Equatable {
    /// Target directories as given; the first is the reference for ratios.
    public var targets: [String]
    /// Selected workloads, in run order (``Workload`` declaration order), without duplicates.
    public var workloads: [Workload]
    /// Bytes of the large file (all streams together): `--size`, default 1 GiB.
    public var size: Int
    /// Files in the generated tree and in the metadata workload: `--files`, default 10,000.
    public var files: Int
    /// Repetitions: `--runs`, default 3.
    public var runs: Int
    /// Parallel streams for the copies, the tree and metadata: `--jobs`, default 1.
    public var jobs: Int
    /// Seed for the data, the tree and the random offsets: `--seed`, default 1.
    public var seed: UInt64
    /// Leave the bench's files in place: `--keep`.
    public var keep: Bool
    /// Processes to report CPU per operation of, by target path as given (`--cpu`).
    public var watched: [String: [WatchedProcess]] = [:]

    public static let defaultSize = 1 << 30
    public static let defaultFiles = 10_000
    public static let defaultRuns = 3
    /// The smallest `--size` per stream: 64 KiB, enough for random 4 KiB reads to mean something.
    public static let minimumSizePerStream = 64 << 10
    public static let maximumJobs = 64

    public init(
        targets: [String], workloads: [Workload] = Workload.defaults, size: Int = BenchConfiguration.defaultSize,
        files: Int = BenchConfiguration.defaultFiles, runs: Int = BenchConfiguration.defaultRuns, jobs: Int = 1,
        seed: UInt64 = 1, keep: Bool = false
    ) {
        self.targets = targets
        self.workloads = Array(Set(workloads)).sorted()
        self.size = size
        self.files = files
        self.runs = runs
        self.jobs = jobs
        self.seed = seed
        self.keep = keep
    }

    /// Checks the settings' ranges; the message names the option.
    public func validate() throws(BenchError) {
        if self.targets.isEmpty { throw BenchError(.invalidSetting, "give at least one target directory") }
        if self.workloads.isEmpty { throw BenchError(.invalidSetting, "no workload selected") }
        if !(1...1000).contains(self.runs) { throw BenchError(.invalidSetting, "--runs must be 1...1000") }
        if !(1...Self.maximumJobs).contains(self.jobs) {
            throw BenchError(.invalidSetting, "--jobs must be 1...\(Self.maximumJobs)")
        }
        if !(1...10_000_000).contains(self.files) { throw BenchError(.invalidSetting, "--files must be 1...10000000") }
        if self.size < Self.minimumSizePerStream * self.jobs {
            throw BenchError(
                .invalidSetting,
                "--size must be at least \(ByteCount(Self.minimumSizePerStream * self.jobs)) (64 KiB per job)")
        }
    }

    /// Whether any selected workload needs the large file, the tree.
    var usesLargeFile: Bool { self.workloads.contains { $0.usesLargeFile } }
    var usesTree: Bool { self.workloads.contains { $0.usesTree } }
}

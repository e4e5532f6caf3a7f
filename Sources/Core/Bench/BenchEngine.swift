#if canImport(Glibc)
    import Glibc
#endif

/// Runs a bench: checks the targets, runs every selected workload on every target in every
/// run, verifies what it reads, removes its files, and returns a ``BenchReport``.
///
/// Order: for each run, for each workload, for each target — A B C, A B C — so slow drift of
/// the machine (thermal, other tenants, a filling disk) touches every target alike. Everything
/// that is not the measurement itself (generating data, computing expected checksums, removing
/// the previous run's files, dropping caches, reading back for verification) happens outside the
/// clock. A workload that fails on a target is recorded and skipped on that target for later
/// runs; the others go on.
///
/// Not thread-safe: one engine is driven from one thread. Workloads run their own threads.
public final class BenchEngine {
    public let configuration: BenchConfiguration
    private let progress: any BenchProgress
    private let cancellation: BenchCancellation
    private let tool: BenchReport.Tool
    private let tree: SourceTree
    private var workspaces: [TargetWorkspace] = []

    /// A bench that has not yet touched any target.
    public init(
        configuration: BenchConfiguration, progress: any BenchProgress = SilentProgress(),
        cancellation: BenchCancellation = BenchCancellation(), tool: BenchReport.Tool
    ) {
        self.configuration = configuration
        self.progress = progress
        self.cancellation = cancellation
        self.tool = tool
        self.tree =
            configuration.usesTree
            ? SourceTreeGenerator(fileCount: configuration.files, seed: configuration.seed).generate()
            : SourceTree(directories: [], files: [])
    }

    /// The prepared targets (after ``prepare()``).
    public var targets: [BenchTarget] { self.workspaces.map(\.target) }

    /// Each target's working directory (after ``prepare()``), which `--keep` leaves in place.
    public var workingDirectories: [String] { self.workspaces.map(\.directory) }

    /// Validates the settings and checks every target before any work: each must exist, be a
    /// directory, accept the bench's working directory, and have room for the selected
    /// workloads. Throws every problem at once, one line per target; on failure nothing is left
    /// behind.
    public func prepare() throws(PreflightFailure) {
        do {
            try self.configuration.validate()
        } catch {
            throw PreflightFailure(problems: [error])
        }
        let requirement = TargetPreflight.requirement(
            for: self.configuration, tree: self.configuration.usesTree ? self.tree : nil)
        let mounts = MountTable.current()
        var problems: [BenchError] = []
        var prepared: [TargetWorkspace] = []
        for (index, path) in self.configuration.targets.enumerated() {
            switch TargetPreflight.prepare(path: path, index: index, requirement: requirement, mounts: mounts) {
            case .success(let (target, directory)):
                let workspace = TargetWorkspace(target: target, directory: directory)
                workspace.processes = self.configuration.watched[path] ?? []
                prepared.append(workspace)
            case .failure(let problem):
                problems.append(problem)
            }
        }
        if !problems.isEmpty {
            for workspace in prepared { try? BenchFileSystem.removeTree(workspace.directory) }
            throw PreflightFailure(problems: problems)
        }
        self.workspaces = prepared
    }

    /// Runs the bench on the prepared targets and removes its files (unless `keep`).
    public func run() -> BenchReport {
        precondition(!self.workspaces.isEmpty, "prepare() first")
        let startedAt = Self.timestamp()
        let started = ContinuousClock.now
        let context = self.makeContext()
        var collector = ResultCollector(workspaces: self.workspaces.count)

        let steps = self.configuration.runs * self.configuration.workloads.count * self.workspaces.count
        var stepIndex = 0
        runs: for run in 1...self.configuration.runs {
            for workload in self.configuration.workloads {
                for workspace in self.workspaces {
                    stepIndex += 1
                    if self.cancellation.isCancelled { break runs }
                    if workspace.failed.contains(workload) { continue }
                    let step = BenchStep(
                        run: run, runs: self.configuration.runs, index: stepIndex, count: steps, workload: workload,
                        targetLabel: workspace.target.label, targetPath: workspace.target.path,
                        totalUnits: self.units(of: workload, context), unit: Self.unit(of: workload))
                    self.progress.stepStarted(step)
                    do {
                        try self.ensurePrerequisites(of: workload, in: workspace, context)
                        let measurement = try self.measure(workload, in: workspace, run: run, context)
                        collector.record(measurement, workload: workload, target: workspace.target.index, run: run)
                        self.progress.stepFinished(step, summary: Self.summary(of: workload, measurement))
                    } catch {
                        if error.code == .cancelled {
                            self.progress.stepFinished(step, summary: "interrupted")
                            break runs
                        }
                        workspace.failed.insert(workload)
                        collector.errors.append(
                            BenchReport.Failure(
                                target: workspace.target.index, workload: workload, run: run, message: error.message))
                        self.progress.stepFinished(step, summary: "failed: \(error.message)")
                    }
                }
            }
        }

        if !self.configuration.keep {
            self.progress.note("removing the bench's files")
            for workspace in self.workspaces {
                do {
                    try BenchFileSystem.removeTree(workspace.directory)
                } catch {
                    collector.errors.append(
                        BenchReport.Failure(
                            target: workspace.target.index, workload: nil, run: nil,
                            message: "cleanup: \(error.message)"))
                }
            }
        }

        return BenchReport(
            tool: self.tool, startedAt: startedAt, durationSeconds: (ContinuousClock.now - started).seconds,
            host: Self.host(), settings: BenchReport.Settings(self.configuration), targets: self.targets,
            figures: collector.figures(workloads: self.configuration.workloads, targets: self.workspaces.count),
            verification: BenchReport.Verification(
                verifiedBytes: collector.verifiedBytes, verifiedFiles: collector.verifiedFiles,
                mismatches: collector.mismatches),
            errors: collector.errors, interrupted: self.cancellation.isCancelled)
    }

    /// Removes every working directory (after an interrupted ``prepare()``-then-quit, say).
    public func removeWorkingDirectories() {
        for workspace in self.workspaces { try? BenchFileSystem.removeTree(workspace.directory) }
    }

    // MARK: - Steps

    private func makeContext() -> WorkloadContext {
        self.progress.note("generating data and expected checksums")
        let pool = DataPool(seed: self.configuration.seed)
        let layout = LargeFileLayout(totalSize: self.configuration.size, streams: self.configuration.jobs)
        let largeDigests =
            self.configuration.usesLargeFile
            ? (0..<self.configuration.jobs).map { layout.expectedDigest(file: $0, pool: pool) } : []
        let treeDigests = self.tree.files.map {
            ContentDigest(bytes: pool.content(seed: $0.contentSeed, length: $0.size))
        }
        return WorkloadContext(
            configuration: self.configuration, pool: pool, layout: layout, largeDigests: largeDigests, tree: self.tree,
            treeDigests: treeDigests, progress: self.progress, cancellation: self.cancellation)
    }

    /// Untimed setup a reading workload needs when the writing one did not run (or failed).
    private func ensurePrerequisites(of workload: Workload, in workspace: TargetWorkspace, _ context: WorkloadContext)
        throws(BenchError)
    {
        switch workload {
        case .copyOut, .copyOutCached, .randomRead:
            if !workspace.largeFilesWritten {
                self.progress.note("writing the large file on \(workspace.target.label) (untimed)")
                try CopyWorkloads.prepareUntimed(workspace, context)
            }
        case .treeOut:
            if !workspace.treeWritten {
                self.progress.note("creating the tree on \(workspace.target.label) (untimed)")
                try TreeWorkloads.prepareUntimed(workspace, context)
            }
        default:
            break
        }
    }

    private func measure(_ workload: Workload, in workspace: TargetWorkspace, run: Int, _ context: WorkloadContext)
        throws(BenchError) -> Measurement
    {
        switch workload {
        case .copyIn:
            return try CopyWorkloads.copyIn(
                workspace, context, verify: !self.configuration.workloads.contains(.copyOut))
        case .copyOut:
            return try CopyWorkloads.copyOut(workspace, context, cached: false)
        case .copyOutCached:
            return try CopyWorkloads.copyOut(workspace, context, cached: true)
        case .randomRead:
            return try RandomReadWorkload.run(workspace, context, run: run)
        case .treeIn:
            return try TreeWorkloads.treeIn(
                workspace, context, verify: !self.configuration.workloads.contains(.treeOut))
        case .treeOut:
            return try TreeWorkloads.treeOut(workspace, context)
        case .metadata:
            return try MetadataWorkload.run(workspace, context)
        case .checkAtomic:
            return try AtomicityCheck.run(workspace, context)
        }
    }

    private func units(of workload: Workload, _ context: WorkloadContext) -> Int {
        switch workload {
        case .copyIn, .copyOut, .copyOutCached: return self.configuration.size
        case .randomRead:
            return RandomReadWorkload.concurrencies.count
                * RandomReadWorkload.readLimit(fileSize: context.layout.fileSizes[0])
        case .treeIn, .treeOut: return self.tree.files.count
        case .metadata: return MetadataWorkload.phases.count * self.configuration.files
        case .checkAtomic: return AtomicityCheck.maximumReads
        }
    }

    private static func unit(of workload: Workload) -> BenchStep.Unit {
        switch workload {
        case .copyIn, .copyOut, .copyOutCached: return .bytes
        case .treeIn, .treeOut: return .files
        default: return .operations
        }
    }

    /// The step's headline for progress output: "412 MB/s", "1.62 s (6,170 files/s)".
    static func summary(of workload: Workload, _ measurement: Measurement) -> String {
        var parts: [String] = []
        switch workload {
        case .treeIn, .treeOut:
            let elapsed = measurement.values["elapsed"] ?? 0
            let rate = measurement.values["rate"] ?? 0
            parts.append("\(FigureFormat.figure(elapsed)) s (\(FigureFormat.figure(rate)) files/s)")
        case .checkAtomic:
            let reads = Int(measurement.values["reads"] ?? 0)
            let torn = Int(measurement.values["torn-reads"] ?? 0)
            parts.append("\(FigureFormat.grouped(reads)) reads, \(FigureFormat.grouped(torn)) torn")
        default:
            for metric in workload.metrics {
                guard let value = measurement.values[metric.name] else { continue }
                let prefix = workload.metrics.count > 1 ? metric.name + " " : ""
                parts.append("\(prefix)\(FigureFormat.figure(value)) \(metric.unit)")
            }
        }
        if !measurement.mismatches.isEmpty { parts.append("\(measurement.mismatches.count) MISMATCHES") }
        for note in measurement.notes where note.hasPrefix("warm") || note.hasPrefix("buffered") {
            parts.append(String(note.prefix { $0 != ":" }))
        }
        return parts.joined(separator: ", ")
    }

    // MARK: - Host facts

    /// Now, UTC, as ISO 8601 ("2025-11-27T03:48:00Z").
    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    static func host() -> BenchReport.Host {
        var names = utsname()
        uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return BenchReport.Host(
            kernel: text(names.release), machine: text(names.machine), cores: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            root: geteuid() == 0)
    }
}

/// Every target that failed the checks before any work, one problem each.
public struct PreflightFailure: Error, Sendable {
    public var problems: [BenchError]
}

/// Gathers samples, notes and verification results over the steps of a bench.
struct ResultCollector {
    /// samples[target]["workload/metric"] = values in run order.
    var samples: [[String: [Double]]]
    /// notes[target][workload] = distinct notes in order of first appearance.
    var notes: [[Workload: [String]]]
    /// cpu[target]["workload/metric"][role] = µs of CPU per operation, in run order.
    var cpu: [[String: [String: [Double]]]]
    var mismatches: [BenchReport.VerificationMismatch] = []
    var errors: [BenchReport.Failure] = []
    var verifiedBytes = 0
    var verifiedFiles = 0

    init(workspaces: Int) {
        self.samples = Array(repeating: [:], count: workspaces)
        self.notes = Array(repeating: [:], count: workspaces)
        self.cpu = Array(repeating: [:], count: workspaces)
    }

    mutating func record(_ measurement: Measurement, workload: Workload, target: Int, run: Int) {
        for (name, value) in measurement.values where value.isFinite {
            self.samples[target]["\(workload.rawValue)/\(name)", default: []].append(value)
        }
        for (name, roles) in measurement.cpu {
            for (role, value) in roles where value.isFinite {
                self.cpu[target]["\(workload.rawValue)/\(name)", default: [:]][role, default: []].append(value)
            }
        }
        for note in measurement.notes where !(self.notes[target][workload]?.contains(note) ?? false) {
            self.notes[target][workload, default: []].append(note)
        }
        self.mismatches += measurement.mismatches.map {
            BenchReport.VerificationMismatch(
                target: target, workload: workload, run: run, path: $0.path, detail: $0.detail)
        }
        self.verifiedBytes += measurement.verifiedBytes
        self.verifiedFiles += measurement.verifiedFiles
    }

    /// Figures for every metric of every workload on every target that has samples, each with
    /// its ratio to the first target's median.
    func figures(workloads: [Workload], targets: Int) -> [BenchReport.Figure] {
        var figures: [BenchReport.Figure] = []
        for workload in workloads {
            for metric in workload.metrics {
                let key = "\(workload.rawValue)/\(metric.name)"
                let reference = self.samples[0][key].flatMap { Statistics($0) }
                for target in 0..<targets {
                    guard let values = self.samples[target][key], let statistics = Statistics(values) else { continue }
                    let ratio = reference.flatMap { metric.ratio(statistics.median, toFirst: $0.median) }
                    var figure = BenchReport.Figure(
                        metric: metric, target: target, samples: values, statistics: statistics,
                        ratioToFirst: ratio.flatMap { $0.isFinite ? $0 : nil },
                        notes: self.notes[target][workload] ?? [])
                    if let roles = self.cpu[target][key] {
                        figure.cpuPerOperation = roles.compactMapValues { Statistics($0)?.median }
                    }
                    figures.append(figure)
                }
            }
        }
        return figures
    }
}

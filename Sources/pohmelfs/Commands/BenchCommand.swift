import ArgumentParser
import PohmelfsCore

#if canImport(Glibc)
    import Glibc
#endif

/// Set by SIGINT and SIGTERM; the engine stops between operations and removes its files.
private let interruption = BenchCancellation()

/// `pohmelfs bench`: the copy benchmark, side by side across directories.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Compare copy workloads across directories: a pohmelfs mount, sshfs, a local disk, anything.",
        discussion: """
            Runs the same workloads on every TARGET, interleaved (A B A B ...) so that drift hits all alike, \
            and prints each figure's median (min-max over --runs) and its ratio to the first target. \
            Workloads: \(Workload.allCases.map(\.rawValue).joined(separator: ", ")) \
            (check-atomic only with --check-atomic or --workload check-atomic). \
            Every byte read back is verified against what was written; exit status 0 when all verified, \
            1 for a bad target or setting or a failed workload, 2 for a checksum mismatch, 130 when interrupted. \
            Cold reads drop the page cache when run as root; otherwise the table marks them warm. \
            The bench works in TARGET/pohmelfs-bench-<random> and removes it unless --keep. \
            --json prints the report documented in PohmelfsCore's BenchJSON article.
            """
    )

    @Argument(help: "Directories to compare; the first is the reference for ratios.", completion: .directory)
    var targets: [String] = []

    @Option(
        name: .long, parsing: .singleValue,
        help: "A workload to run (repeat or comma-separate; default: all but check-atomic).",
        completion: .list(Workload.allCases.map(\.rawValue)))
    var workload: [String] = []

    @Option(name: .long, help: "Bytes for the large-file workloads: 1G, 512M, 1GiB, 1GB (default 1G).")
    var size: String = "1G"

    @Option(name: .long, help: "Files in the generated tree and the metadata workload.")
    var files: Int = BenchConfiguration.defaultFiles

    @Option(name: .long, help: "Repetitions of every workload on every target.")
    var runs: Int = BenchConfiguration.defaultRuns

    @Option(name: .long, help: "Parallel streams for the copies, the tree and metadata.")
    var jobs: Int = 1

    @Option(name: .long, help: "Seed for the data, the tree and the random offsets.")
    var seed: UInt64 = 1

    @Flag(name: .long, help: "Print the report as JSON on standard output instead of the table.")
    var json = false

    @Option(name: .long, help: "Also write an SVG bar chart of every figure to FILE.svg.", completion: .file(extensions: ["svg"]))
    var plot: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Report the CPU per operation of these processes beside TARGET's figures (repeatable).",
            valueName: "TARGET=ROLE:PID[,ROLE:PID...]"))
    var cpu: [String] = []

    @Flag(name: .long, help: "Keep the bench's files in each target.")
    var keep = false

    @Flag(name: .long, help: "Add the torn-read check: overlapping 1 MiB O_DIRECT writers and a reader.")
    var checkAtomic = false

    func validate() throws {
        guard !self.targets.isEmpty else { throw ValidationError("give at least one TARGET directory") }
        _ = try self.selectedWorkloads()
        guard ByteCount(parsing: self.size) != nil else {
            throw ValidationError("--size '\(self.size)' is not a size such as 1G, 512M or 4096")
        }
        let configuration = try self.benchConfiguration()
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.message)
        }
        if let plot = self.plot {
            // Found out now, not after an hour of measuring.
            let slash = plot.lastIndex(of: "/")
            let directory = slash.map { $0 == plot.startIndex ? "/" : String(plot[..<$0]) } ?? "."
            guard access(directory, W_OK) == 0 else {
                throw ValidationError("--plot: cannot write in '\(directory)'")
            }
        }
    }

    func run() throws {
        let progress = ProgressBar()
        let engine = BenchEngine(
            configuration: try self.benchConfiguration(), progress: progress, cancellation: interruption,
            tool: .init(name: "pohmelfs", version: PohmelFS.configuration.version))
        // Installed before the working directories exist, so an interrupt never strands them.
        signal(SIGINT) { _ in interruption.cancel() }
        signal(SIGTERM) { _ in interruption.cancel() }
        do {
            try engine.prepare()
        } catch {
            for problem in error.problems.dropLast() { _ = fail("bench", problem.message) }
            throw fail("bench", error.problems.last?.message ?? "cannot start")
        }
        if interruption.isCancelled {
            engine.removeWorkingDirectories()
            throw ExitCode(130)
        }
        let report = engine.run()
        progress.finish()

        if self.json {
            do {
                Self.writeStandardOutput(try report.jsonText())
            } catch {
                throw fail("bench", "cannot encode the report: \(error)")
            }
        } else {
            Self.writeStandardOutput(report.renderTable())
        }
        if let plot = self.plot {
            do {
                try writeBenchOutput(report.renderChart(), to: plot)
            } catch {
                throw fail("bench", "--plot: \(error.message)")
            }
        }
        if self.keep {
            for directory in engine.workingDirectories { progress.note("kept \(directory)") }
        }
        if report.interrupted { throw ExitCode(130) }
        if !report.verification.mismatches.isEmpty {
            let count = report.verification.mismatches.count
            _ = fail("bench", "\(count) checksum mismatch\(count == 1 ? "" : "es"): data did not read back as written")
            throw ExitCode(2)
        }
        if !report.errors.isEmpty {
            throw fail("bench", "\(report.errors.count) workload\(report.errors.count == 1 ? "" : "s") failed")
        }
    }

    /// Writes the report to standard output (which carries nothing else: progress and errors go
    /// to standard error).
    private static func writeStandardOutput(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(1, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// `--workload` values (repeated or comma-separated) plus `--check-atomic`.
    private func selectedWorkloads() throws -> [Workload] {
        var selected: [Workload] = []
        for name in self.workload.flatMap({ $0.split(separator: ",").map(String.init) }) {
            guard let workload = Workload(rawValue: name) else {
                let names = Workload.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("unknown workload '\(name)'; choose from \(names)")
            }
            selected.append(workload)
        }
        if selected.isEmpty { selected = Workload.defaults }
        if self.checkAtomic { selected.append(.checkAtomic) }
        return selected
    }

    private func benchConfiguration() throws -> BenchConfiguration {
        var configuration = BenchConfiguration(
            targets: self.targets, workloads: try self.selectedWorkloads(),
            size: ByteCount(parsing: self.size)?.bytes ?? 0, files: self.files, runs: self.runs, jobs: self.jobs,
            seed: self.seed, keep: self.keep)
        for text in self.cpu {
            switch WatchedProcess.parse(text) {
            case .success(let (target, processes)):
                guard self.targets.contains(target) else {
                    throw ValidationError("--cpu \(text): \(target) is not one of the targets")
                }
                configuration.watched[target, default: []] += processes
            case .failure(let error):
                throw ValidationError(error.message)
            }
        }
        return configuration
    }
}

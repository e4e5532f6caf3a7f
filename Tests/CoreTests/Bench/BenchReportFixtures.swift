import PohmelfsCore

/// A small, fully known report: two targets (B half as fast as A on copies, twice as fast on
/// metadata creates), one figure with a note, an atomicity check, and optional trouble.
enum BenchReportFixtures {
    static func targets(secondPath: String = "/mnt/pohmelfs") -> [BenchTarget] {
        [
            BenchTarget(index: 0, path: "/srv/local", resolvedPath: "/srv/local", filesystem: "ext4", mountPoint: "/"),
            BenchTarget(
                index: 1, path: secondPath, resolvedPath: secondPath, filesystem: "fuse.pohmelfs",
                mountPoint: secondPath),
        ]
    }

    static func figure(_ metric: Metric, target: Int, _ samples: [Double], reference: [Double]?, notes: [String] = [])
        -> BenchReport.Figure
    {
        let statistics = Statistics(samples)!
        let ratio = reference.flatMap { Statistics($0) }.flatMap { metric.ratio(statistics.median, toFirst: $0.median) }
        return BenchReport.Figure(
            metric: metric, target: target, samples: samples, statistics: statistics, ratioToFirst: ratio, notes: notes)
    }

    static func report(
        secondPath: String = "/mnt/pohmelfs", mismatches: [BenchReport.VerificationMismatch] = [],
        errors: [BenchReport.Failure] = [], targets count: Int = 2
    ) -> BenchReport {
        let copyIn = Workload.copyIn.metrics[0]
        let copyOut = Workload.copyOut.metrics[0]
        let treeElapsed = Workload.treeIn.metrics[0]
        let create = Workload.metadata.metrics[0]
        let reads = Workload.checkAtomic.metrics[0]
        let torn = Workload.checkAtomic.metrics[1]
        let aCopy = [1000.0, 900, 1100]
        let aOut = [2000.0, 2100, 1900]
        let aTree = [1.5, 1.6, 1.7]
        let aCreate = [4000.0, 3900, 4100]
        var figures = [
            Self.figure(copyIn, target: 0, aCopy, reference: aCopy),
            Self.figure(copyIn, target: 1, [500, 450, 550], reference: aCopy),
            Self.figure(copyOut, target: 0, aOut, reference: aOut),
            Self.figure(
                copyOut, target: 1, [1000, 990, 1010], reference: aOut, notes: ["warm: caches not dropped (not root)"]),
            Self.figure(treeElapsed, target: 0, aTree, reference: aTree),
            Self.figure(treeElapsed, target: 1, [3.2, 3.0, 3.4], reference: aTree),
            Self.figure(create, target: 0, aCreate, reference: aCreate),
            Self.figure(reads, target: 0, [5000, 5000, 5000], reference: nil),
            Self.figure(torn, target: 0, [12, 0, 3], reference: nil),
            Self.figure(reads, target: 1, [5000, 5000, 5000], reference: nil),
            Self.figure(torn, target: 1, [0, 0, 0], reference: nil),
        ]
        if !errors.contains(where: { $0.target == 1 && $0.workload == .metadata }) {
            figures.insert(Self.figure(create, target: 1, [8000, 7800, 8200], reference: aCreate), at: 7)
        }
        if count == 1 { figures = figures.filter { $0.target == 0 } }
        let configuration = BenchConfiguration(
            targets: Array(["/srv/local", secondPath].prefix(count)), workloads: [.copyIn, .copyOut, .treeIn, .metadata, .checkAtomic],
            size: 1 << 30, files: 10_000, runs: 3, jobs: 1, seed: 1)
        return BenchReport(
            tool: .init(name: "pohmelfs", version: "0.1.0"), startedAt: "2025-11-27T03:48:00Z", durationSeconds: 123.5,
            host: .init(kernel: "6.18.0", machine: "x86_64", cores: 2, root: true),
            settings: BenchReport.Settings(configuration), targets: Array(Self.targets(secondPath: secondPath).prefix(count)),
            figures: figures,
            verification: .init(verifiedBytes: 6 << 30, verifiedFiles: 60_012, mismatches: mismatches),
            errors: errors, interrupted: false)
    }
}

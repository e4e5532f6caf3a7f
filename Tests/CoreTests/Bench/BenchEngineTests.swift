import Foundation
import XCTest

@testable import PohmelfsCore

final class BenchEngineTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        self.root = FileManager.default.temporaryDirectory.appendingPathComponent("bench-engine-\(UUID().uuidString)")
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(
                at: self.root.appendingPathComponent(name), withIntermediateDirectories: true)
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: self.root)
    }

    private func path(_ name: String) -> String { self.root.appendingPathComponent(name).path }

    private func engine(_ targets: [String], workloads: [Workload] = Workload.defaults, runs: Int = 1) -> BenchEngine {
        BenchEngine(
            configuration: BenchConfiguration(
                targets: targets, workloads: workloads, size: 1 << 20, files: 60, runs: runs, jobs: 2, seed: 3),
            tool: .init(name: "pohmelfs", version: "test"))
    }

    func testEveryDefaultWorkloadRunsOnBothTargetsAndVerifies() throws {
        let engine = self.engine([self.path("a"), self.path("b")])
        try engine.prepare()
        XCTAssertEqual(engine.targets.map(\.label), ["A", "B"])
        let report = engine.run()
        XCTAssertTrue(report.passed, report.renderTable())
        for workload in Workload.defaults {
            for metric in workload.metrics {
                for target in 0..<2 {
                    XCTAssertNotNil(report.figure(metric, target: target), "\(metric.label) on \(target)")
                }
            }
        }
        XCTAssertEqual(report.figure(Workload.copyIn.metrics[0], target: 0)?.ratioToFirst, 1)
        XCTAssertGreaterThan(report.verification.verifiedBytes, 2 << 20)
        // Nothing is left behind.
        for directory in engine.workingDirectories {
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory), directory)
        }
    }

    func testSamplesAreKeptPerRun() throws {
        let engine = self.engine([self.path("a")], workloads: [.copyIn, .metadata], runs: 3)
        try engine.prepare()
        let report = engine.run()
        XCTAssertTrue(report.passed, report.renderTable())
        XCTAssertEqual(report.figure(Workload.copyIn.metrics[0], target: 0)?.samples.count, 3)
        XCTAssertEqual(report.figure(Workload.metadata.metrics[3], target: 0)?.samples.count, 3)
    }

    func testReadingWorkloadsAloneWriteTheirInputUntimed() throws {
        let engine = self.engine([self.path("a")], workloads: [.copyOut, .treeOut, .randomRead])
        try engine.prepare()
        let report = engine.run()
        XCTAssertTrue(report.passed, report.renderTable())
        XCTAssertNotNil(report.figure(Workload.treeOut.metrics[0], target: 0))
        XCTAssertEqual(report.verification.verifiedFiles, 2 + 60)
    }

    func testKeepLeavesTheWorkingDirectory() throws {
        let engine = BenchEngine(
            configuration: BenchConfiguration(
                targets: [self.path("a")], workloads: [.copyIn], size: 1 << 20, files: 10, runs: 1, keep: true),
            tool: .init(name: "pohmelfs", version: "test"))
        try engine.prepare()
        _ = engine.run()
        let directory = try XCTUnwrap(engine.workingDirectories.first)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/large-0.bin"))
        XCTAssertTrue(directory.contains("/pohmelfs-bench-"))
    }

    func testBadTargetsAreAllReportedBeforeAnyWork() {
        let file = self.path("file")
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data([1])))
        let engine = self.engine([self.path("a"), self.path("missing"), file])
        XCTAssertThrowsError(try engine.prepare()) { error in
            let problems = (error as? PreflightFailure)?.problems ?? []
            XCTAssertEqual(problems.map(\.code), [.targetMissing, .targetNotDirectory])
            XCTAssertEqual(
                problems.map(\.message), ["\(self.path("missing")): no such directory", "\(file): not a directory"])
        }
        // The good target's working directory was removed again.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: self.path("a"))) ?? []
        XCTAssertEqual(left, [])
    }

    func testInvalidSettingsAreRejectedBeforeAnyWork() {
        let engine = BenchEngine(
            configuration: BenchConfiguration(targets: [self.path("a")], size: 1000, jobs: 1),
            tool: .init(name: "pohmelfs", version: "test"))
        XCTAssertThrowsError(try engine.prepare()) { error in
            XCTAssertEqual((error as? PreflightFailure)?.problems.first?.code, .invalidSetting)
        }
    }

    func testRequirementCountsTheLargeFileTheTreeAndTheMetadataFiles() {
        let configuration = BenchConfiguration(targets: ["/x"], size: 1 << 30, files: 1000)
        let tree = SourceTreeGenerator(fileCount: 1000, seed: 1).generate()
        let requirement = TargetPreflight.requirement(for: configuration, tree: tree)
        XCTAssertGreaterThan(requirement.bytes, (1 << 30) + tree.totalBytes)
        XCTAssertGreaterThan(requirement.inodes, 2000)
        XCTAssertTrue(requirement.explanation.contains("--size 1.0 GiB"), requirement.explanation)
    }

    func testCancellationStopsTheBenchAndCleansUp() throws {
        let cancellation = BenchCancellation()
        cancellation.cancel()
        let engine = BenchEngine(
            configuration: BenchConfiguration(targets: [self.path("a")], size: 1 << 20, files: 10, runs: 1),
            cancellation: cancellation, tool: .init(name: "pohmelfs", version: "test"))
        try engine.prepare()
        let report = engine.run()
        XCTAssertTrue(report.interrupted)
        XCTAssertFalse(report.passed)
        XCTAssertFalse(FileManager.default.fileExists(atPath: engine.workingDirectories[0]))
    }

    func testMountTableFindsTheLongestCoveringMountPoint() {
        let table = MountTable(
            text: """
                /dev/vda / ext4 rw 0 0
                tmpfs /tmp tmpfs rw 0 0
                pohmelfs /tmp/my\\040mount fuse.pohmelfs rw 0 0
                """)
        XCTAssertEqual(table.entry(containing: "/home/x")?.type, "ext4")
        XCTAssertEqual(table.entry(containing: "/tmp/a")?.type, "tmpfs")
        XCTAssertEqual(table.entry(containing: "/tmp/my mount/dir")?.type, "fuse.pohmelfs")
        XCTAssertEqual(table.entry(containing: "/tmpfoo")?.type, "ext4")
    }
}

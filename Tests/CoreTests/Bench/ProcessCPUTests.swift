import Foundation
import XCTest

@testable import PohmelfsCore

/// CPU per operation beside the bench's figures (`--cpu TARGET=ROLE:PID`): parsing, reading
/// /proc/PID/stat, and the figures and table lines the engine makes of it.
final class ProcessCPUTests: XCTestCase {
    func testParsesTargetsRolesAndPids() throws {
        let (target, processes) = try WatchedProcess.parse("/mnt/a=b=server:12,client:34").get()
        XCTAssertEqual(target, "/mnt/a=b")
        XCTAssertEqual(processes, [WatchedProcess(role: "server", pid: 12), WatchedProcess(role: "client", pid: 34)])
        for bad in ["/mnt/a", "=server:1", "/mnt/a=", "/mnt/a=server", "/mnt/a=server:x", "/mnt/a=:5", "/mnt/a=s:0"] {
            guard case .failure(let error) = WatchedProcess.parse(bad) else { return XCTFail("accepted \(bad)") }
            XCTAssertTrue(error.message.contains("--cpu"), error.message)
        }
    }

    /// The parsed fields are the ones that move when the process works (utime + stime), and a
    /// process that is gone reads as nil.
    func testReadsTheCPUTimeOfAProcess() throws {
        let before = try XCTUnwrap(ProcessCPU.seconds(of: getpid()))
        var spins: UInt64 = 0
        while (ProcessCPU.seconds(of: getpid()) ?? 0) < before + 0.05 && spins < 50_000_000 {
            spins &+= 1
        }
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(ProcessCPU.seconds(of: getpid())), before + 0.05)
        XCTAssertNil(ProcessCPU.seconds(of: Int32.max))
    }

    func testFiguresOfAWatchedTargetCarryCPUPerOperation() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bench-cpu-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let watched = root.appendingPathComponent("watched").path
        let plain = root.appendingPathComponent("plain").path
        for path in [watched, plain] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        var configuration = BenchConfiguration(
            targets: [watched, plain], workloads: [.randomRead, .metadata], size: 1 << 20, files: 40, runs: 1, seed: 3)
        configuration.watched[watched] = [WatchedProcess(role: "bench", pid: getpid())]
        let engine = BenchEngine(configuration: configuration, tool: .init(name: "pohmelfs", version: "test"))
        try engine.prepare()
        let report = engine.run()
        XCTAssertTrue(report.passed, report.renderTable())
        for metric in Workload.randomRead.metrics + Workload.metadata.metrics {
            let figure = try XCTUnwrap(report.figure(metric, target: 0))
            let cpu = try XCTUnwrap(figure.cpuPerOperation?["bench"], "\(metric.label)")
            XCTAssertTrue(cpu.isFinite && cpu >= 0, "\(metric.label): \(cpu)")
            XCTAssertNil(report.figure(metric, target: 1)?.cpuPerOperation, "\(metric.label) of the unwatched target")
        }
        let table = report.renderTable()
        XCTAssertTrue(table.contains("CPU per operation"), table)
        XCTAssertTrue(table.contains("A random-read qd16: bench "), table)
        let decoded = try JSONDecoder().decode(BenchReport.self, from: try JSONEncoder().encode(report))
        XCTAssertEqual(decoded.figures, report.figures)
    }
}

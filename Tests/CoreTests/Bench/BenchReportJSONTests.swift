import Foundation
import PohmelfsCore
import XCTest

final class BenchReportJSONTests: XCTestCase {
    /// The keys BenchJSON.md documents; a change here is a schema change.
    static let topLevelKeys: Set<String> = [
        "schema", "schemaVersion", "tool", "startedAt", "durationSeconds", "host", "settings", "targets", "figures",
        "verification", "errors", "interrupted", "passed",
    ]
    static let figureKeys: Set<String> = [
        "workload", "metric", "unit", "better", "target", "samples", "median", "min", "max", "ratioToFirst", "notes",
    ]
    static let targetKeys: Set<String> = ["index", "label", "path", "resolvedPath", "filesystem", "mountPoint"]
    static let settingsKeys: Set<String> = ["sizeBytes", "files", "runs", "jobs", "seed", "workloads", "keep"]

    private func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func testReportSurvivesAnEncodeDecodeRoundTrip() throws {
        let failure = BenchReport.Failure(target: 1, workload: nil, run: nil, message: "cleanup: Device busy")
        let report = BenchReportFixtures.report(errors: [failure])
        XCTAssertEqual(try BenchReport(jsonText: report.jsonText()), report)
    }

    func testJSONHasEveryDocumentedField() throws {
        let json = try self.object(BenchReportFixtures.report().jsonText())
        XCTAssertEqual(Set(json.keys), Self.topLevelKeys)
        XCTAssertEqual(json["schema"] as? String, "pohmelfs-bench")
        XCTAssertEqual(json["schemaVersion"] as? Int, 1)
        XCTAssertEqual(json["passed"] as? Bool, true)
        let settings = try XCTUnwrap(json["settings"] as? [String: Any])
        XCTAssertEqual(Set(settings.keys), Self.settingsKeys)
        XCTAssertEqual(
            settings["workloads"] as? [String], ["copy-in", "copy-out", "tree-in", "metadata", "check-atomic"])
        let targets = try XCTUnwrap(json["targets"] as? [[String: Any]])
        XCTAssertEqual(targets.count, 2)
        for target in targets { XCTAssertEqual(Set(target.keys), Self.targetKeys) }
        let figures = try XCTUnwrap(json["figures"] as? [[String: Any]])
        for figure in figures { XCTAssertEqual(Set(figure.keys), Self.figureKeys) }
        let verification = try XCTUnwrap(json["verification"] as? [String: Any])
        XCTAssertEqual(Set(verification.keys), ["verifiedBytes", "verifiedFiles", "mismatches"])
    }

    func testMissingRatiosAndFailureFieldsAreExplicitNulls() throws {
        let failure = BenchReport.Failure(target: 0, workload: nil, run: nil, message: "cleanup failed")
        let json = try self.object(BenchReportFixtures.report(errors: [failure]).jsonText())
        let figures = try XCTUnwrap(json["figures"] as? [[String: Any]])
        let torn = try XCTUnwrap(figures.first { $0["metric"] as? String == "torn-reads" })
        XCTAssertTrue(torn["ratioToFirst"] is NSNull)
        let errors = try XCTUnwrap(json["errors"] as? [[String: Any]])
        XCTAssertTrue(errors[0]["workload"] is NSNull)
        XCTAssertTrue(errors[0]["run"] is NSNull)
        XCTAssertEqual(json["passed"] as? Bool, false)
    }

    func testFigureCarriesSamplesStatisticsAndRatio() throws {
        let json = try self.object(BenchReportFixtures.report().jsonText())
        let figures = try XCTUnwrap(json["figures"] as? [[String: Any]])
        let copy = try XCTUnwrap(figures.first { $0["workload"] as? String == "copy-in" && $0["target"] as? Int == 1 })
        XCTAssertEqual(copy["metric"] as? String, "throughput")
        XCTAssertEqual(copy["unit"] as? String, "MB/s")
        XCTAssertEqual(copy["better"] as? String, "higher")
        XCTAssertEqual(copy["samples"] as? [Double], [500, 450, 550])
        XCTAssertEqual(copy["median"] as? Double, 500)
        XCTAssertEqual(copy["min"] as? Double, 450)
        XCTAssertEqual(copy["max"] as? Double, 550)
        XCTAssertEqual(copy["ratioToFirst"] as? Double, 0.5)
    }
}

import PohmelfsCore
import XCTest

final class BenchTableTests: XCTestCase {
    func testTableNamesBothTargetsWithTheirFilesystems() {
        let table = BenchReportFixtures.report().renderTable()
        XCTAssertTrue(table.contains("A  /srv/local     ext4"), table)
        XCTAssertTrue(table.contains("B  /mnt/pohmelfs  fuse.pohmelfs"), table)
    }

    func testEachRowShowsMedianRangeAndRatioToTheFirstTarget() {
        let lines = BenchReportFixtures.report().renderTable().split(separator: "\n").map(String.init)
        let copyIn = lines.first { $0.hasPrefix("copy-in ") }
        XCTAssertNotNil(copyIn)
        XCTAssertTrue(copyIn?.contains("1,000 (900–1,100)") ?? false, copyIn ?? "")
        XCTAssertTrue(copyIn?.contains("500 (450–550)") ?? false, copyIn ?? "")
        XCTAssertTrue(copyIn?.hasSuffix("0.50×") ?? false, copyIn ?? "")
        // Seconds: twice as long is half as fast.
        let tree = lines.first { $0.hasPrefix("tree-in ") }
        XCTAssertTrue(tree?.contains("1.60 (1.50–1.70)") ?? false, tree ?? "")
        XCTAssertTrue(tree?.hasSuffix("0.50×") ?? false, tree ?? "")
        let create = lines.first { $0.contains(" create ") }
        XCTAssertTrue(create?.hasSuffix("2.00×") ?? false, create ?? "")
    }

    func testColumnsAreAligned() {
        let lines = BenchReportFixtures.report().renderTable().split(separator: "\n").map(String.init)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("workload") }) else {
            return XCTFail("no header")
        }
        // Every row with a ratio ends at the same column as the header's last title.
        let width = lines[header].count
        for line in lines[(header + 1)...] where line.hasSuffix("×") {
            XCTAssertEqual(line.count, width, line)
        }
        XCTAssertTrue(lines[header].hasSuffix("vs A"))
        XCTAssertTrue(lines[header + 1].allSatisfy { $0 == "-" || $0 == " " })
    }

    func testCountsHaveNoRatioAndAreSummedInTheAtomicityLines() {
        let table = BenchReportFixtures.report().renderTable()
        let torn = table.split(separator: "\n").first { $0.contains("torn-reads") }.map(String.init) ?? ""
        XCTAssertFalse(torn.contains("×"), torn)
        XCTAssertTrue(
            table.contains("A: 15 torn reads of 15,000 (0.1 %): overlapping 1 MiB writes are not atomic here"), table)
        XCTAssertTrue(table.contains("B: 0 torn reads of 15,000 (0.0 %): every read saw whole transactions"), table)
    }

    func testNotesVerificationAndFailuresAreListedUnderTheTable() {
        let mismatch = BenchReport.VerificationMismatch(
            target: 1, workload: .copyOut, run: 2, path: "large-0.bin", detail: "bytes 0–1048575 differ")
        let failure = BenchReport.Failure(
            target: 1, workload: .metadata, run: 1, message: "create x: Permission denied")
        let table = BenchReportFixtures.report(mismatches: [mismatch], errors: [failure]).renderTable()
        XCTAssertTrue(table.contains("B copy-out: warm: caches not dropped (not root)"), table)
        XCTAssertTrue(table.contains("1 CHECKSUM MISMATCHES"), table)
        XCTAssertTrue(table.contains("B copy-out run 2: large-0.bin: bytes 0–1048575 differ"), table)
        XCTAssertTrue(table.contains("error: B metadata run 1: create x: Permission denied"), table)
        let create = table.split(separator: "\n").first { $0.contains(" create ") }.map(String.init) ?? ""
        XCTAssertTrue(create.hasSuffix("failed"), create)
    }

    func testACleanReportSaysEveryByteMatched() {
        XCTAssertTrue(
            BenchReportFixtures.report().renderTable().contains("verified 6.0 GiB in 60,012 files: every byte matched"))
    }
}

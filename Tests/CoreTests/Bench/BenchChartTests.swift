import Foundation
import XCTest

@testable import PohmelfsCore

#if canImport(FoundationXML)
    import FoundationXML
#endif

final class BenchChartTests: XCTestCase {
    /// Collects the text content and reports whether the document parsed.
    private final class Collector: NSObject, XMLParserDelegate {
        var text = ""
        var elements: [String] = []
        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            self.elements.append(elementName)
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { self.text += string }
    }

    private func parse(_ svg: String) -> (Bool, Collector, String) {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        let ok = parser.parse()
        return (ok, collector, parser.parserError.map { "\($0)" } ?? "")
    }

    func testChartIsWellFormedXMLNamingBothTargets() {
        let (ok, collector, error) = self.parse(BenchReportFixtures.report().renderChart())
        XCTAssertTrue(ok, error)
        XCTAssertEqual(collector.elements.first, "svg")
        XCTAssertTrue(collector.text.contains("/srv/local"))
        XCTAssertTrue(collector.text.contains("/mnt/pohmelfs"))
        XCTAssertTrue(collector.elements.contains("rect"))
    }

    func testChartHasTitleAxisLabelUnitsAndLegend() {
        let (_, collector, _) = self.parse(BenchReportFixtures.report().renderChart())
        XCTAssertTrue(collector.text.contains("relative to A"))
        XCTAssertTrue(collector.text.contains("linear scale, bars clipped at 2×"))
        XCTAssertTrue(collector.text.contains("1×"))
        XCTAssertTrue(collector.text.contains("MB/s, higher is better"))
        XCTAssertTrue(collector.text.contains("s, lower is better"))
        XCTAssertTrue(collector.text.contains("B 500 MB/s · 0.50×"))
        XCTAssertTrue(collector.text.contains("A  /srv/local  (ext4)"))
        // Counts without a direction are not charted.
        XCTAssertFalse(collector.text.contains("torn-reads"))
    }

    func testPathsWithMarkupCharactersStayWellFormed() {
        let report = BenchReportFixtures.report(secondPath: "/mnt/a&b <\"quoted\"> 'x'")
        let (ok, collector, error) = self.parse(report.renderChart())
        XCTAssertTrue(ok, error)
        XCTAssertTrue(collector.text.contains("/mnt/a&b <\"quoted\"> 'x'"))
    }

    func testTheAxisIsLinearFromZeroToTwoWithTheOneLine() {
        let ticks = BenchReport.chartTicks()
        XCTAssertEqual(ticks.first, 0)
        XCTAssertEqual(ticks.last, 2)
        XCTAssertTrue(ticks.contains(1) && ticks.contains(0.25) && ticks.contains(1.5))
        XCTAssertEqual(BenchReport.tickLabel(0.5), "0.5×")
        XCTAssertEqual(BenchReport.tickLabel(1), "1×")
    }

    /// Bar widths are proportional to the ratio: a 0.5× bar is half the 1× bar.
    func testBarLengthsAreProportionalToTheirRatios() throws {
        let svg = BenchReportFixtures.report().renderChart()
        let widths = svg.split(separator: "\n").filter { $0.hasPrefix("<rect x=\"240\"") }.compactMap { line -> Double? in
            guard let range = line.range(of: "width=\"") else { return nil }
            return Double(line[range.upperBound...].prefix { $0 != "\"" })
        }
        // The plot is 530 units wide for 0...2×: 1× is 265, A's bars; B's copy-in is 0.5×.
        XCTAssertTrue(widths.contains(265), "\(widths)")
        XCTAssertTrue(widths.contains(132.5), "\(widths)")
    }

    /// Labels live right of the plot, so none starts left of the clip line (none crosses 1×).
    func testLabelsNeverSitOverThePlot() {
        let svg = BenchReportFixtures.report().renderChart()
        for line in svg.split(separator: "\n") where line.hasPrefix("<text x=\"") && line.contains(" MB/s · ") {
            let x = Double(line.dropFirst("<text x=\"".count).prefix { $0 != "\"" }) ?? 0
            XCTAssertGreaterThan(x, 240 + 530, String(line))
        }
    }

    func testOneTargetHasNoRatiosOrBars() {
        let report = BenchReportFixtures.report(targets: 1)
        let svg = report.renderChart()
        XCTAssertFalse(svg.contains("linear scale"))
        XCTAssertTrue(svg.contains("one target: nothing to compare"))
        XCTAssertFalse(report.renderTable().contains("vs A"))
    }
}

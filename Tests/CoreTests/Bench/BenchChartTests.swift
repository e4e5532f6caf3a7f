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
        XCTAssertTrue(collector.text.contains("logarithmic scale"))
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

    func testAxisCoversEveryRatioAndOne() {
        let (lower, upper) = BenchReport.chartDomain([0.03, 4.2])
        XCTAssertLessThanOrEqual(lower, 0.03)
        XCTAssertGreaterThanOrEqual(upper, 4.2)
        let ticks = BenchReport.chartTicks(lower: lower, upper: upper)
        XCTAssertTrue(ticks.contains(1))
        XCTAssertEqual(ticks, ticks.sorted())
        XCTAssertEqual(BenchReport.chartDomain([]).0, 0.5)
        XCTAssertEqual(BenchReport.chartDomain([]).1, 2)
    }
}

import PohmelfsCore
import XCTest

final class StatisticsTests: XCTestCase {
    func testMedianOfAnOddCountIsTheMiddleSample() {
        let statistics = Statistics([5, 1, 9, 3, 7])
        XCTAssertEqual(statistics?.median, 5)
        XCTAssertEqual(statistics?.minimum, 1)
        XCTAssertEqual(statistics?.maximum, 9)
        XCTAssertEqual(statistics?.count, 5)
    }

    func testMedianOfAnEvenCountIsTheMeanOfTheTwoMiddleSamples() {
        XCTAssertEqual(Statistics([4, 1, 3, 2])?.median, 2.5)
    }

    func testOneSampleIsItsOwnMedianMinimumAndMaximum() {
        let statistics = Statistics([42])
        XCTAssertEqual(statistics, Statistics([42]))
        XCTAssertEqual(statistics?.median, 42)
        XCTAssertEqual(statistics?.minimum, 42)
        XCTAssertEqual(statistics?.maximum, 42)
    }

    func testMedianIgnoresOneOutlier() {
        XCTAssertEqual(Statistics([100, 101, 99, 2])?.median, 99.5)
        XCTAssertEqual(Statistics([100, 101, 99, 2, 100])?.median, 100)
    }

    func testNoSamplesGiveNoStatistics() {
        XCTAssertNil(Statistics([]))
    }

    func testRatioIsASpeedUpWhicheverWayTheMetricImproves() {
        let throughput = Metric(.copyIn, "throughput", unit: "MB/s", better: .higher)
        let seconds = Metric(.treeIn, "elapsed", unit: "s", better: .lower)
        let count = Metric(.checkAtomic, "reads", unit: "reads", better: .none)
        XCTAssertEqual(throughput.ratio(200, toFirst: 100), 2)
        XCTAssertEqual(seconds.ratio(2, toFirst: 1), 0.5)
        XCTAssertNil(count.ratio(2, toFirst: 1))
        XCTAssertNil(throughput.ratio(1, toFirst: 0))
    }
}

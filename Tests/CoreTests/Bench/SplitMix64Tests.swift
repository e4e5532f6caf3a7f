import PohmelfsCore
import XCTest

final class SplitMix64Tests: XCTestCase {
    func testSeedZeroGivesTheReferenceSequence() {
        // The first outputs of the reference splitmix64.c for seed 0.
        var generator = SplitMix64(seed: 0)
        XCTAssertEqual(generator.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(generator.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(generator.next(), 0x06C4_5D18_8009_454F)
    }

    func testSameSeedGivesSameSequence() {
        var first = SplitMix64(seed: 42)
        var second = SplitMix64(seed: 42)
        for _ in 0..<1000 { XCTAssertEqual(first.next(), second.next()) }
    }

    func testDerivedStreamsDifferFromEachOther() {
        var a = SplitMix64.derived(seed: 1, stream: 1)
        var b = SplitMix64.derived(seed: 1, stream: 2)
        XCTAssertNotEqual((0..<4).map { _ in a.next() }, (0..<4).map { _ in b.next() })
    }

    func testUnitDoublesStayInHalfOpenInterval() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<10_000 {
            let value = generator.nextUnitDouble()
            XCTAssertGreaterThanOrEqual(value, 0)
            XCTAssertLessThan(value, 1)
        }
    }

    func testBoundedIntegersStayBelowTheBoundAndCoverIt() {
        var generator = SplitMix64(seed: 9)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let value = generator.nextInt(below: 10)
            XCTAssertTrue((0..<10).contains(value))
            seen.insert(value)
        }
        XCTAssertEqual(seen.count, 10)
    }

    func testGaussianVariatesHaveUnitSpread() {
        var generator = SplitMix64(seed: 3)
        let samples = (0..<20_000).map { _ in generator.nextGaussian() }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count)
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
    }
}

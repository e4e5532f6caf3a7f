import PohmelfsCore
import XCTest

final class ByteCountTests: XCTestCase {
    func testBinarySuffixesArePowersOf1024() {
        XCTAssertEqual(ByteCount(parsing: "1G")?.bytes, 1 << 30)
        XCTAssertEqual(ByteCount(parsing: "1GiB")?.bytes, 1 << 30)
        XCTAssertEqual(ByteCount(parsing: "512M")?.bytes, 512 << 20)
        XCTAssertEqual(ByteCount(parsing: "64k")?.bytes, 64 << 10)
        XCTAssertEqual(ByteCount(parsing: "1.5G")?.bytes, 3 << 29)
    }

    func testDecimalSuffixesArePowersOf1000() {
        XCTAssertEqual(ByteCount(parsing: "1GB")?.bytes, 1_000_000_000)
        XCTAssertEqual(ByteCount(parsing: "4MB")?.bytes, 4_000_000)
    }

    func testPlainNumbersAreBytes() {
        XCTAssertEqual(ByteCount(parsing: "4096")?.bytes, 4096)
        XCTAssertEqual(ByteCount(parsing: " 10B ")?.bytes, 10)
    }

    func testGarbageIsRejected() {
        XCTAssertNil(ByteCount(parsing: ""))
        XCTAssertNil(ByteCount(parsing: "G"))
        XCTAssertNil(ByteCount(parsing: "1X"))
        XCTAssertNil(ByteCount(parsing: "-1G"))
        XCTAssertNil(ByteCount(parsing: "one"))
    }

    func testDescriptionUsesBinaryUnits() {
        XCTAssertEqual(ByteCount(1 << 30).description, "1.0 GiB")
        XCTAssertEqual(ByteCount(100).description, "100 B")
        XCTAssertEqual(ByteCount(93 << 20).description, "93.0 MiB")
        XCTAssertEqual(ByteCount(300 << 20).description, "300 MiB")
    }

    func testFiguresAreFormattedToAboutThreeSignificantDigits() {
        XCTAssertEqual(FigureFormat.figure(60_712.4), "60,712")
        XCTAssertEqual(FigureFormat.figure(21.74), "21.7")
        XCTAssertEqual(FigureFormat.figure(4.514), "4.51")
        XCTAssertEqual(FigureFormat.figure(0.0423), "0.042")
        XCTAssertEqual(FigureFormat.ratio(0.333), "0.33×")
        XCTAssertEqual(FigureFormat.ratio(12.44), "12.4×")
        XCTAssertEqual(FigureFormat.count(3750), "3,750")
        XCTAssertEqual(FigureFormat.count(74.5), "74.5")
    }
}

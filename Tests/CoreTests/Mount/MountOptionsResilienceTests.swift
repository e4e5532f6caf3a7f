import PohmelfsCore
import XCTest

/// `-o hard`, `-o soft,timeout=N`.
final class MountOptionsResilienceTests: XCTestCase {
    func testHardIsTheDefaultAndSoftTakesATimeout() throws {
        XCTAssertFalse(try MountOptions(parsing: "").soft)
        XCTAssertFalse(try MountOptions(parsing: "soft,hard").soft)
        let soft = try MountOptions(parsing: "soft,timeout=2.5")
        XCTAssertTrue(soft.soft)
        XCTAssertEqual(soft.timeout, 2.5)
        XCTAssertEqual(try MountOptions(parsing: "soft").timeout, 30)
    }

    func testMalformedResilienceOptionsAreRefusedByName() {
        for bad in ["timeout=0", "timeout=-1", "timeout=abc", "timeout", "soft=1", "hard=yes"] {
            XCTAssertThrowsError(try MountOptions(parsing: bad), bad) { error in
                XCTAssertEqual((error as? MountOptionError)?.option, bad)
            }
        }
    }

    func testATimeoutWithoutSoftIsRefusedInsteadOfIgnored() throws {
        for text in ["timeout=5", "hard,timeout=5", "soft,timeout=5,hard"] {
            XCTAssertThrowsError(try MountOptions(parsing: text), text) { error in
                XCTAssertEqual((error as? MountOptionError)?.option, "timeout=5")
                XCTAssertTrue("\(error)".contains("soft,timeout=5"), "\(error)")
            }
        }
        XCTAssertEqual(try MountOptions(parsing: "timeout=5,soft").timeout, 5)
    }
}

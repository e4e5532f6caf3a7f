import PohmelfsCore
import XCTest

/// The cache options of `pohmelfs mount -o`: cache_size= with suffixes and a floor, writeback=.
final class MountOptionsCacheTests: XCTestCase {
    func testDefaultsAreStrictWithWritebackAnd256MiB() throws {
        let options = try MountOptions(parsing: "")
        XCTAssertEqual(options.cache, .strict)
        XCTAssertTrue(options.writeback)
        XCTAssertEqual(options.cacheSize, 256 << 20)
    }

    func testCacheSizeTakesSuffixes() throws {
        XCTAssertEqual(try MountOptions(parsing: "cache_size=64M").cacheSize, 64 << 20)
        XCTAssertEqual(try MountOptions(parsing: "cache_size=2G").cacheSize, 2 << 30)
        XCTAssertEqual(try MountOptions(parsing: "cache_size=4096K").cacheSize, 4 << 20)
    }

    func testBadCacheSizesAndWritebackValuesNameTheOption() {
        for option in ["cache_size=", "cache_size=lots", "cache_size=512K", "cache_size=-1M", "writeback=maybe", "writeback"] {
            XCTAssertThrowsError(try MountOptions(parsing: "ro,\(option)"), option) { error in
                XCTAssertEqual((error as? MountOptionError)?.option, option)
            }
        }
    }

    func testWritebackCanBeSwitchedOff() throws {
        XCTAssertFalse(try MountOptions(parsing: "writeback=off").writeback)
        XCTAssertTrue(try MountOptions(parsing: "writeback=off,writeback=on").writeback)
    }
}

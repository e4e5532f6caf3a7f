import Foundation
import PohmelfsCore
import XCTest

/// `--log-format text|json`: values quoted where needed, JSON one object per line.
final class LogLineFormatterTests: XCTestCase {
    private let date = Date(timeIntervalSince1970: 0)

    func testTextQuotesOnlyValuesThatNeedIt() {
        let line = LogLineFormatter(format: .text, timestamps: false).line(
            date: self.date, level: .info, label: "pohmelfs.serve", message: "session established",
            metadata: ["client": "pohmelfs locks", "peer": "127.0.0.1:60530", "path": "a \"b\"", "empty": ""])
        XCTAssertEqual(
            line,
            #"pohmelfs.serve: session established client="pohmelfs locks" empty="" path="a \"b\"" peer=127.0.0.1:60530"#)
    }

    /// A carriage return or another control character in a value (a file name, a peer's words)
    /// cannot break a text line or fake a second one: it is escaped as in JSON.
    func testTextEscapesControlCharactersInQuotedValues() {
        let line = LogLineFormatter(format: .text, timestamps: false).line(
            date: self.date, level: .info, label: "pohmelfs.serve", message: "m",
            metadata: ["name": "a\rfake info line\u{1b}[0m"])
        XCTAssertEqual(line, #"pohmelfs.serve: m name="a\rfake info line\u001b[0m""#)
    }

    func testJSONIsFlatWithUnescapedSlashesAndRenamesClashingKeys() throws {
        let line = LogLineFormatter(format: .json).line(
            date: self.date, level: .warning, label: "pohmelfs.mount", message: "lost",
            metadata: ["mountpoint": "/mnt/a", "level": "x", "note": "tab\there"])
        XCTAssertFalse(line.contains("\\/"), line)
        XCTAssertFalse(line.contains("\n"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        XCTAssertEqual(object["level"], "warning")
        XCTAssertEqual(object["meta.level"], "x")
        XCTAssertEqual(object["mountpoint"], "/mnt/a")
        XCTAssertEqual(object["note"], "tab\there")
        XCTAssertEqual(object["logger"], "pohmelfs.mount")
        XCTAssertNotNil(object["time"])
    }
}

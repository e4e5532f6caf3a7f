import Foundation
import PohmelfsCore
import XCTest

/// The shared secret file: mode 0600 or stricter, trailing newline ignored, compared exactly.
final class SharedSecretTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        self.directory = NSTemporaryDirectory() + "pohmelfs-secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    private func write(_ text: String, mode: Int) throws -> String {
        let path = self.directory + "/secret"
        try? FileManager.default.removeItem(atPath: path)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func testSecretReadableByOthersIsRefusedNamingTheFix() throws {
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let path = try self.write("abc\n", mode: mode)
            XCTAssertThrowsError(try SharedSecret(contentsOf: path)) { error in
                let security = error as? SecurityError
                XCTAssertEqual(security?.code, .insecurePermissions)
                XCTAssertTrue(security?.message.contains("chmod 600 \(path)") ?? false, "\(error)")
            }
        }
    }

    func testOwnerOnlySecretIsReadWithoutItsTrailingNewline() throws {
        let path = try self.write("s3cret value\n", mode: 0o600)
        XCTAssertEqual(try SharedSecret(contentsOf: path).bytes, Array("s3cret value".utf8))
        XCTAssertEqual(try SharedSecret(contentsOf: try self.write("x", mode: 0o400)).bytes, [UInt8(ascii: "x")])
    }

    func testEmptyAndMissingSecretsAreRefused() throws {
        XCTAssertThrowsError(try SharedSecret(contentsOf: try self.write("\n\n", mode: 0o600))) {
            XCTAssertEqual(($0 as? SecurityError)?.code, .badMaterial)
        }
        XCTAssertThrowsError(try SharedSecret(contentsOf: self.directory + "/absent")) {
            XCTAssertEqual(($0 as? SecurityError)?.code, .badMaterial)
        }
    }

    func testMatchesOnlyTheExactSecret() {
        let secret = SharedSecret(bytes: Array("correct horse".utf8))
        XCTAssertTrue(secret.matches(Array("correct horse".utf8)))
        XCTAssertFalse(secret.matches(Array("correct hors".utf8)))
        XCTAssertFalse(secret.matches(Array("correct horse ".utf8)))
        XCTAssertFalse(secret.matches(Array("Correct horse".utf8)))
        XCTAssertFalse(secret.matches([]))
    }

    func testRandomSecretsDiffer() {
        let a = SharedSecret.random()
        let b = SharedSecret.random()
        XCTAssertEqual(a.bytes.count, 64)
        XCTAssertNotEqual(a, b)
    }
}

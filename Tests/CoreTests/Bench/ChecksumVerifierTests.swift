import Foundation
import PohmelfsCore
import XCTest

final class ChecksumVerifierTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("verifier-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// 2.5 MiB of pool bytes written to `name`; returns the path and its expected digest.
    private func writeOriginal(_ name: String) throws -> (String, ContentDigest, Data) {
        let pool = DataPool(seed: 5)
        let content = pool.content(seed: 99, length: 5 * ContentDigest.chunkSize / 2)
        let data = Data(content)
        let url = self.directory.appendingPathComponent(name)
        try data.write(to: url)
        return (url.path, ContentDigest(bytes: content), data)
    }

    func testVerifierAcceptsAnExactCopy() throws {
        let (_, expected, data) = try self.writeOriginal("original.bin")
        let copy = self.directory.appendingPathComponent("copy.bin")
        try data.write(to: copy)
        XCTAssertNil(ChecksumVerifier.verifyFile(at: copy.path, expected: expected))
    }

    func testVerifierCatchesACopyWithOneFlippedByte() throws {
        let (_, expected, data) = try self.writeOriginal("original.bin")
        var corrupted = data
        let position = 2 * ContentDigest.chunkSize + 4321
        corrupted[position] ^= 0x80
        let copy = self.directory.appendingPathComponent("copy.bin")
        try corrupted.write(to: copy)

        let mismatch = ChecksumVerifier.verifyFile(at: copy.path, expected: expected, reportAs: "copy.bin")
        XCTAssertNotNil(mismatch)
        XCTAssertEqual(mismatch?.path, "copy.bin")
        // The detail names the mebibyte holding the flipped byte.
        XCTAssertTrue(
            mismatch?.detail.contains("bytes \(2 * ContentDigest.chunkSize)–\(data.count - 1) differ") ?? false,
            mismatch?.detail ?? "no mismatch")
    }

    func testVerifierCatchesATruncatedCopy() throws {
        let (_, expected, data) = try self.writeOriginal("original.bin")
        let copy = self.directory.appendingPathComponent("short.bin")
        try data.prefix(data.count - 1).write(to: copy)
        let mismatch = ChecksumVerifier.verifyFile(at: copy.path, expected: expected)
        XCTAssertTrue(mismatch?.detail.contains("read \(data.count - 1) bytes, wrote \(data.count)") ?? false)
    }

    func testVerifierReportsAMissingFileAsAMismatch() {
        let mismatch = ChecksumVerifier.verifyFile(
            at: self.directory.appendingPathComponent("absent").path, expected: ContentDigest(bytes: [1]))
        XCTAssertTrue(mismatch?.detail.contains("cannot be read back") ?? false)
    }
}

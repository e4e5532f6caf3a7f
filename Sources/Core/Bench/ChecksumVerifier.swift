#if canImport(Glibc)
    import Glibc
#endif

/// A file whose content is not what the bench wrote: where, and how it differs.
public struct ChecksumMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The file, relative to the bench's working directory where possible.
    public var path: String
    /// "bytes 1048576–2097151 differ (expected xxh64:…, read xxh64:…)", "missing", ...
    public var detail: String

    public init(path: String, detail: String) {
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(self.path): \(self.detail)" }
}

/// Checks content read back against the digest of what was written.
///
/// The timed workloads hash as they read and call ``compare(path:expected:actual:)``; when a
/// workload that writes runs without its reading partner (copy-in without copy-out, tree-in
/// without tree-out), ``verifyFile(at:expected:)`` reads the file back untimed.
public enum ChecksumVerifier {
    /// nil when `actual` matches `expected`; otherwise a mismatch naming the first differing
    /// byte range.
    public static func compare(path: String, expected: ContentDigest, actual: ContentDigest) -> ChecksumMismatch? {
        guard let range = expected.firstDifference(in: actual) else { return nil }
        if expected.length != actual.length {
            return ChecksumMismatch(
                path: path, detail: "read \(actual.length) bytes, wrote \(expected.length) (\(actual) ≠ \(expected))")
        }
        return ChecksumMismatch(
            path: path,
            detail: "bytes \(range.lowerBound)–\(range.upperBound - 1) differ (read \(actual), wrote \(expected))")
    }

    /// The digest of the file at `path`, read in 1 MiB requests.
    public static func digest(ofFileAt path: String) throws(BenchError) -> ContentDigest {
        let file = try OpenFile(path, flags: O_RDONLY)
        let buffer = AlignedBuffer(count: 8 * ContentDigest.chunkSize)
        var digest = ContentDigest()
        while true {
            let got = try file.read(into: buffer.bytes)
            digest.append(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<got]))
            if got < buffer.bytes.count { break }
        }
        try file.close()
        digest.finish()
        return digest
    }

    /// Reads the file at `path` back (untimed) and compares it with `expected`; a file that
    /// cannot be read is a mismatch too.
    public static func verifyFile(at path: String, expected: ContentDigest, reportAs name: String? = nil)
        -> ChecksumMismatch?
    {
        do {
            return Self.compare(path: name ?? path, expected: expected, actual: try Self.digest(ofFileAt: path))
        } catch {
            return ChecksumMismatch(path: name ?? path, detail: "cannot be read back: \(error.message)")
        }
    }
}

/// The checksum of a file's content: the ``XXHash64`` of each 1 MiB chunk, and one value over
/// all of them.
///
/// Hashing in fixed chunks lets a reader verify a large file batch by batch without holding it,
/// and lets a mismatch say *where* the content differs ("bytes 3145728–4194303"), not just that
/// it does. Content of at most one chunk (every file of a generated tree but the largest) has
/// exactly one chunk digest, and its ``value`` is that digest. Empty content has one chunk: the
/// hash of no bytes.
public struct ContentDigest: Hashable, Sendable, CustomStringConvertible {
    /// Bytes per chunk: 1 MiB, the bench's I/O size.
    public static let chunkSize = 1 << 20

    /// The content's length in bytes.
    public private(set) var length: Int
    /// XXH64 (seed 0) of each chunk in order; never empty.
    public private(set) var chunks: [UInt64]

    /// The digest of `bytes`, hashed chunk by chunk.
    public init(bytes: UnsafeRawBufferPointer) {
        self.length = 0
        self.chunks = []
        self.append(bytes)
        self.finish()
    }

    /// The digest of a byte array (tests and small inputs).
    public init(bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { ContentDigest(bytes: $0) }
    }

    /// An empty accumulator: ``append(_:)`` pieces, then ``finish()``.
    public init() {
        self.length = 0
        self.chunks = []
    }

    /// Adds the next piece of content. Every piece but the last must be a whole number of
    /// chunks, so that chunk boundaries fall where they would if the content were hashed at once.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(self.length % Self.chunkSize == 0, "only the last piece may end inside a chunk")
        var offset = 0
        while offset < bytes.count {
            let count = min(Self.chunkSize, bytes.count - offset)
            self.chunks.append(XXHash64.hash(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])))
            offset += count
        }
        self.length += bytes.count
    }

    /// Completes the digest: empty content gets the digest of no bytes as its one chunk.
    public mutating func finish() {
        if self.chunks.isEmpty {
            self.chunks.append(XXHash64.hash(UnsafeRawBufferPointer(start: nil, count: 0)))
        }
    }

    /// One 64-bit value for the whole content: the single chunk's digest, or the XXH64 (seeded
    /// with the length) of the little-endian chunk digests.
    public var value: UInt64 {
        if self.chunks.count == 1 { return self.chunks[0] }
        return self.chunks.map { $0.littleEndian }.withUnsafeBytes { XXHash64.hash($0, seed: UInt64(self.length)) }
    }

    /// Where `actual` first differs from this (expected) digest: the byte range of the first
    /// chunk whose digest differs, or of the bytes past the shorter length; nil when equal.
    public func firstDifference(in actual: ContentDigest) -> Range<Int>? {
        if self == actual { return nil }
        for index in 0..<min(self.chunks.count, actual.chunks.count) where self.chunks[index] != actual.chunks[index] {
            let start = index * Self.chunkSize
            return start..<min(start + Self.chunkSize, max(self.length, actual.length))
        }
        let shorter = min(self.length, actual.length)
        return shorter..<max(self.length, actual.length)
    }

    public var description: String {
        let hex = String(self.value, radix: 16)
        return "xxh64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

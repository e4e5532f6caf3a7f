/// Where the large file's bytes come from: `--size` split into one file per `--jobs` stream,
/// each a sequence of 1 MiB chunks, chunk *n* of the whole stream being ``DataPool/chunkWindow(_:length:)`` *n*.
///
/// Copy-in writes these chunks; copy-out and random reads check what they read against them.
public struct LargeFileLayout: Sendable, Equatable {
    /// Bytes in each stream's file; they add up to the total size.
    public let fileSizes: [Int]

    /// Splits `totalSize` evenly over `streams` files; the first files take the remainder.
    public init(totalSize: Int, streams: Int) {
        precondition(streams > 0 && totalSize >= streams)
        let each = totalSize / streams
        let extra = totalSize % streams
        self.fileSizes = (0..<streams).map { each + ($0 < extra ? 1 : 0) }
    }

    /// The file name of stream `index`: `large-0.bin`, `large-1.bin`, ...
    public static func fileName(_ index: Int) -> String { "large-\(index).bin" }

    /// Number of chunks (the last one possibly short) in stream `file`.
    public func chunkCount(file: Int) -> Int {
        (self.fileSizes[file] + ContentDigest.chunkSize - 1) / ContentDigest.chunkSize
    }

    /// The bytes of chunk `chunk` of stream `file`.
    public func chunk(file: Int, chunk: Int, pool: DataPool) -> UnsafeRawBufferPointer {
        let start = chunk * ContentDigest.chunkSize
        let length = min(ContentDigest.chunkSize, self.fileSizes[file] - start)
        return pool.chunkWindow(self.firstChunkIndex(file: file) + chunk, length: length)
    }

    /// The expected digest of stream `file`'s content.
    public func expectedDigest(file: Int, pool: DataPool) -> ContentDigest {
        var digest = ContentDigest()
        for index in 0..<self.chunkCount(file: file) {
            digest.append(self.chunk(file: file, chunk: index, pool: pool))
        }
        digest.finish()
        return digest
    }

    /// The bytes expected at `offset..<offset+length` of stream `file`, which must lie within one
    /// chunk (true of 4 KiB reads at 4 KiB offsets).
    public func expectedBytes(file: Int, offset: Int, length: Int, pool: DataPool) -> UnsafeRawBufferPointer {
        let chunkIndex = offset / ContentDigest.chunkSize
        let within = offset % ContentDigest.chunkSize
        precondition(within + length <= ContentDigest.chunkSize, "a range across a chunk boundary")
        let chunk = self.chunk(file: file, chunk: chunkIndex, pool: pool)
        return UnsafeRawBufferPointer(rebasing: chunk[within..<within + length])
    }

    /// Index of stream `file`'s first chunk in the whole stream.
    private func firstChunkIndex(file: Int) -> Int {
        var index = 0
        for earlier in 0..<file {
            index += self.chunkCount(file: earlier)
        }
        return index
    }
}

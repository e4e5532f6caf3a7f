#if canImport(Glibc)
    import Glibc
#endif

/// The bytes the bench writes: one block of pseudo-random data, generated once from the seed
/// before anything is timed, from which every file's content is a window.
///
/// Writing straight from the pool keeps data generation out of the timed region (a write costs
/// one `write(2)` from memory, as with fio), and knowing where each written byte came from lets a
/// reader verify what it reads without keeping a copy. Random bytes also defeat any compression
/// or deduplication on the way.
///
/// The memory is page-aligned, so windows at 4 KiB offsets are valid `O_DIRECT` buffers. It is
/// written only during `init` and read-only afterwards, which is what makes sharing it between
/// worker threads safe (hence `@unchecked Sendable`).
public final class DataPool: @unchecked Sendable {
    /// Distance between consecutive windows (a page, for `O_DIRECT` alignment).
    public static let windowStride = 4096
    /// The default number of distinct windows: 4096, so the pool is 16 MiB plus one chunk.
    public static let defaultWindowCount = 4096

    /// The pool's bytes; `count` is `windowCount × windowStride + ContentDigest.chunkSize`.
    public let bytes: UnsafeRawBufferPointer
    /// How many distinct 1 MiB windows start at multiples of ``windowStride``.
    public let windowCount: Int

    /// Fills `windowCount × 4 KiB + 1 MiB` bytes from `SplitMix64(seed)`.
    public init(seed: UInt64, windowCount: Int = DataPool.defaultWindowCount) {
        precondition(windowCount > 0 && windowCount & (windowCount - 1) == 0, "windowCount must be a power of two")
        let count = windowCount * Self.windowStride + ContentDigest.chunkSize
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, Self.windowStride, count) == 0, let raw else {
            fatalError("pohmelfs bench: cannot allocate \(count) bytes for the data pool")
        }
        var generator = SplitMix64.derived(seed: seed, stream: 0x504F_4F4C)  // "POOL"
        let words = raw.bindMemory(to: UInt64.self, capacity: count / 8)
        for index in 0..<count / 8 {
            words[index] = generator.next()
        }
        self.bytes = UnsafeRawBufferPointer(start: raw, count: count)
        self.windowCount = windowCount
    }

    deinit {
        free(UnsafeMutableRawPointer(mutating: self.bytes.baseAddress))
    }

    /// The window for chunk number `index` of the large-file stream: a 1 MiB slice starting at a
    /// page boundary. Consecutive indices map to distinct windows (the multiplier is odd, so the
    /// map is a bijection modulo the power-of-two window count), so a chunk written to the wrong
    /// place does not verify.
    public func chunkWindow(_ index: Int, length: Int = ContentDigest.chunkSize) -> UnsafeRawBufferPointer {
        precondition(length <= ContentDigest.chunkSize)
        let window = Int(truncatingIfNeeded: UInt64(truncatingIfNeeded: index) &* 0x9E37_79B1) & (self.windowCount - 1)
        let start = window * Self.windowStride
        return UnsafeRawBufferPointer(rebasing: self.bytes[start..<start + length])
    }

    /// The content of a generated file: `length` bytes at an offset derived from `contentSeed`.
    public func content(seed contentSeed: UInt64, length: Int) -> UnsafeRawBufferPointer {
        precondition(length <= self.bytes.count, "a file larger than the pool")
        let start = Int(contentSeed % UInt64(self.bytes.count - length + 1))
        return UnsafeRawBufferPointer(rebasing: self.bytes[start..<start + length])
    }
}

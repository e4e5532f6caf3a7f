import CLinux
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// random-read: 4 KiB reads at uniformly random 4 KiB-aligned offsets of the first large-file
/// stream, by 1 and then 16 threads each issuing one `pread` at a time (queue depth 1 and 16, as
/// fio's `psync` with `numjobs`), reported as IOPS.
///
/// Reads use `O_DIRECT` with page-aligned buffers, so they measure the filesystem rather than the
/// page cache; a filesystem that refuses `O_DIRECT` (EINVAL) is read buffered, after dropping
/// caches when possible, and the figure says so. Each measurement stops after as many reads as the
/// file has 4 KiB blocks (at least 2,000) or after ``timeLimit``, whichever comes first. Every
/// block read is compared byte for byte with what copy-in wrote there.
enum RandomReadWorkload {
    static let blockSize = 4096
    static let timeLimit: Duration = .seconds(3)
    static let concurrencies = [1, 16]

    /// Reads each measurement may make at most, for a file of `fileSize` bytes.
    static func readLimit(fileSize: Int) -> Int { max(2000, fileSize / Self.blockSize) }

    static func run(_ workspace: TargetWorkspace, _ context: WorkloadContext, run: Int) throws(BenchError)
        -> Measurement
    {
        let path = workspace.largeFilePath(0)
        let fileSize = context.layout.fileSizes[0]
        let blocks = fileSize / Self.blockSize
        var measurement = Measurement()
        let direct = try Self.supportsDirectIO(path)
        if !direct {
            measurement.notes.append("buffered: O_DIRECT refused (EINVAL), reads may come from the page cache")
            if let reason = PageCacheDropper.drop() { measurement.notes.append(PageCacheDropper.warmNote(reason)) }
        }
        for concurrency in Self.concurrencies {
            let budget = ReadBudget(limit: Self.readLimit(fileSize: fileSize))
            let deadline = ContinuousClock.now + Self.timeLimit
            let started = ContinuousClock.now
            let cpu = CPUSection(workspace.processes)
            let results = WorkerThreads.run(concurrency) { thread in
                capture { () throws(BenchError) in
                    var generator = SplitMix64.derived(
                        seed: context.configuration.seed, stream: UInt64(run * 1000 + concurrency * 32 + thread))
                    let file = try OpenFile(reading: path, direct: direct)
                    let buffer = AlignedBuffer(count: Self.blockSize)
                    var reads = 0
                    var mismatches: [ChecksumMismatch] = []
                    while budget.claim() && ContinuousClock.now < deadline {
                        try context.cancellation.check()
                        let offset = generator.nextInt(below: blocks) * Self.blockSize
                        let got = try file.read(into: buffer.bytes, at: offset)
                        let expected = context.layout.expectedBytes(
                            file: 0, offset: offset, length: Self.blockSize, pool: context.pool)
                        if got != Self.blockSize || memcmp(buffer.bytes.baseAddress!, expected.baseAddress!, got) != 0 {
                            if mismatches.count < 8 {
                                mismatches.append(
                                    ChecksumMismatch(
                                        path: LargeFileLayout.fileName(0),
                                        detail: got == Self.blockSize
                                            ? "4 KiB read at offset \(offset) differs from what was written"
                                            : "4 KiB read at offset \(offset) returned \(got) bytes"))
                            }
                        }
                        reads += 1
                        context.progress.advance(by: 1)
                    }
                    try file.close()
                    return (reads, mismatches)
                }
            }
            let seconds = (ContinuousClock.now - started).seconds
            var reads = 0
            for result in results {
                let (count, mismatches) = try result.get()
                reads += count
                measurement.mismatches += mismatches
            }
            measurement.verifiedBytes += reads * Self.blockSize
            measurement.values["qd\(concurrency)"] = Double(reads) / seconds
            measurement.recordCPU("qd\(concurrency)", cpu, operations: reads)
        }
        return measurement
    }

    /// Whether `path` can be opened and read with `O_DIRECT` (a 4 KiB aligned read at offset 0).
    static func supportsDirectIO(_ path: String) throws(BenchError) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC | POHMELFS_O_DIRECT)
        if fd < 0 {
            if errno == EINVAL { return false }
            throw BenchError.system("open", path, errno: errno)
        }
        defer { close(fd) }
        let buffer = AlignedBuffer(count: Self.blockSize)
        if pread(fd, buffer.bytes.baseAddress, Self.blockSize, 0) < 0 {
            if errno == EINVAL { return false }
            throw BenchError.system("pread", path, errno: errno)
        }
        return true
    }
}

/// The shared count of reads a measurement may still make.
final class ReadBudget: Sendable {
    private let claimed = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Takes one read from the budget; false once it is spent.
    func claim() -> Bool {
        self.claimed.wrappingAdd(1, ordering: .relaxed).oldValue < self.limit
    }
}

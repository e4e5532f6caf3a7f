import CLinux
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// check-atomic (`--check-atomic`): do overlapping 1 MiB writes land whole? The checker of the
/// range-lock issue, run against any directory.
///
/// Two writer threads repeatedly write whole 1 MiB transactions over two overlapping,
/// page-unaligned ranges of one file — A at ``firstOffset``, B at ``secondOffset`` — each
/// transaction filled with its own 8-byte tag (writer number in the top byte, sequence number
/// below), while a reader reads those two ranges in turn. All three use `O_DIRECT` with
/// page-aligned buffers, so that each 1 MiB write or read is one request to the filesystem; a
/// filesystem that refuses `O_DIRECT` is checked buffered and the figure says so.
///
/// A read is torn when the part of it inside the overlap does not carry one tag throughout:
/// it saw part of one transaction and part of another. A filesystem that makes overlapping
/// writes atomic shows zero torn reads; most do not. The check stops after ``maximumReads``
/// reads or ``timeLimit``. A tag no writer wrote is a verification failure, not a torn read.
enum AtomicityCheck {
    static let transferSize = 1 << 20
    /// Writer A's range starts half a page past a page boundary (512-byte aligned, which
    /// `O_DIRECT` on a local disk requires).
    static let firstOffset = 4096 + 2048
    /// Writer B's starts a little past A's middle, also not page-aligned.
    static let secondOffset = firstOffset + (512 << 10) + 1024
    /// The overlap both writers cover: [secondOffset, firstOffset + transferSize).
    static let overlap = secondOffset..<(firstOffset + transferSize)
    /// The file: both ranges, rounded up to a page.
    static let fileSize = (secondOffset + transferSize + 4095) / 4096 * 4096
    static let maximumReads = 5000
    static let timeLimit: Duration = .seconds(5)

    static func run(_ workspace: TargetWorkspace, _ context: WorkloadContext) throws(BenchError) -> Measurement {
        let path = workspace.atomicityPath
        var measurement = Measurement()
        try Self.prefill(path)
        let direct = try Self.supportsDirectWrites(path)
        if !direct {
            measurement.notes.append("buffered: O_DIRECT refused (EINVAL) for unaligned 1 MiB writes")
        }

        let stop = StopFlag()
        let results = WorkerThreads.run(3) { role in
            capture { () throws(BenchError) -> (Int, Int, [ChecksumMismatch]) in
                if role == 0 {
                    defer { stop.set() }
                    return try Self.read(path, direct: direct, context)
                }
                let writes = try Self.write(
                    path, writer: UInt64(role), offset: role == 1 ? Self.firstOffset : Self.secondOffset,
                    direct: direct,
                    until: stop, context)
                return (writes, 0, [])
            }
        }
        var reads = 0
        var torn = 0
        var writes = 0
        for (role, result) in results.enumerated() {
            let (count, tornCount, mismatches) = try result.get()
            if role == 0 {
                reads = count
                torn = tornCount
                measurement.mismatches += mismatches
            } else {
                writes += count
            }
        }
        measurement.values["reads"] = Double(reads)
        measurement.values["torn-reads"] = Double(torn)
        measurement.values["writes"] = Double(writes)
        measurement.verifiedBytes += reads * Self.overlap.count
        try BenchFileSystem.removeFile(path)
        return measurement
    }

    /// The tag every 8-byte word of a transaction carries.
    static func tag(writer: UInt64, sequence: UInt64) -> UInt64 { writer << 56 | (sequence & 0x00FF_FFFF_FFFF_FFFF) }

    /// Whether the overlap part of a read that started at file offset `offset` carries one tag
    /// throughout; returns (torn, the tag of the first word).
    static func inspect(_ buffer: UnsafeRawBufferPointer, readAt offset: Int) -> (torn: Bool, tag: UInt64) {
        let start = Self.overlap.lowerBound - offset
        let end = Self.overlap.upperBound - offset
        let first = buffer.load(fromByteOffset: start, as: UInt64.self)
        var position = start + 8
        while position < end {
            if buffer.load(fromByteOffset: position, as: UInt64.self) != first { return (true, first) }
            position += 8
        }
        return (false, first)
    }

    /// Writes tag 0 (zeros) over the whole file and syncs it, so that no read meets a hole.
    private static func prefill(_ path: String) throws(BenchError) {
        let file = try OpenFile(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        let zeros = AlignedBuffer(count: Self.fileSize)
        try file.write(UnsafeRawBufferPointer(zeros.bytes))
        try file.sync()
        try file.close()
    }

    /// Whether an unaligned 1 MiB `O_DIRECT` write is accepted (writes zeros, which prefill wrote).
    private static func supportsDirectWrites(_ path: String) throws(BenchError) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC | POHMELFS_O_DIRECT)
        if fd < 0 {
            if errno == EINVAL { return false }
            throw BenchError.system("open", path, errno: errno)
        }
        defer { close(fd) }
        let zeros = AlignedBuffer(count: Self.transferSize)
        if pwrite(fd, zeros.bytes.baseAddress, Self.transferSize, off_t(Self.firstOffset)) < 0 {
            if errno == EINVAL { return false }
            throw BenchError.system("pwrite", path, errno: errno)
        }
        return true
    }

    /// A writer: whole transactions at `offset` until the reader is done; returns how many.
    private static func write(
        _ path: String, writer: UInt64, offset: Int, direct: Bool, until stop: StopFlag, _ context: WorkloadContext
    ) throws(BenchError) -> Int {
        let file = try OpenFile(path, flags: O_WRONLY | (direct ? POHMELFS_O_DIRECT : 0))
        let buffer = AlignedBuffer(count: Self.transferSize)
        let words = buffer.bytes.bindMemory(to: UInt64.self)
        var sequence: UInt64 = 0
        while !stop.isSet {
            try context.cancellation.check()
            sequence += 1
            let tag = Self.tag(writer: writer, sequence: sequence)
            for index in words.indices { words[index] = tag }
            try file.write(UnsafeRawBufferPointer(buffer.bytes), at: offset)
        }
        try file.close()
        return Int(sequence)
    }

    /// The reader: reads A's and B's ranges in turn; returns (reads, torn reads, mismatches).
    private static func read(_ path: String, direct: Bool, _ context: WorkloadContext) throws(BenchError) -> (
        Int, Int, [ChecksumMismatch]
    ) {
        let file = try OpenFile(reading: path, direct: direct)
        let buffer = AlignedBuffer(count: Self.transferSize)
        let deadline = ContinuousClock.now + Self.timeLimit
        var reads = 0
        var torn = 0
        var mismatches: [ChecksumMismatch] = []
        while reads < Self.maximumReads && ContinuousClock.now < deadline {
            try context.cancellation.check()
            let offset = reads % 2 == 0 ? Self.firstOffset : Self.secondOffset
            let got = try file.read(into: buffer.bytes, at: offset)
            reads += 1
            context.progress.advance(by: 1)
            guard got == Self.transferSize else {
                mismatches.append(
                    ChecksumMismatch(path: "atomic.bin", detail: "1 MiB read at \(offset) returned \(got) bytes"))
                continue
            }
            let (isTorn, tag) = Self.inspect(UnsafeRawBufferPointer(buffer.bytes), readAt: offset)
            if isTorn {
                torn += 1
            } else if tag >> 56 > 2, mismatches.count < 8 {
                mismatches.append(
                    ChecksumMismatch(path: "atomic.bin", detail: "read at \(offset) holds a pattern no writer wrote"))
            }
        }
        try file.close()
        return (reads, torn, mismatches)
    }
}

/// Tells the writers the reader is done.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { self.flag.store(true, ordering: .relaxed) }
    var isSet: Bool { self.flag.load(ordering: .relaxed) }
}

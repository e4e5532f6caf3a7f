#if canImport(Glibc)
    import Glibc
#endif

/// copy-in, copy-out and copy-out-cached: the large file, one file per `--jobs` stream, moved in
/// 1 MiB requests like fio's `psync` engine with `bs=1M`.
///
/// Timing: copy-in's clock runs from before the first `open` to after the last `close`, the
/// `fsync` of every stream included. Copy-out's clock runs from `open` to `close` as well, but a
/// stream stops it while it checksums the 32 MiB batch it has just read, so the figure belongs
/// to the filesystem, not to the hash; with several streams the figure uses the slowest
/// stream's time. Throughput is in MB/s (10⁶ bytes per second), as fio and dd report.
enum CopyWorkloads {
    /// Bytes a copy-out stream reads before it pauses to checksum them: large enough that the
    /// pauses are rare (readahead cannot run far ahead while the clock is stopped), small enough
    /// for many streams.
    static func batchSize(jobs: Int) -> Int {
        let chunk = ContentDigest.chunkSize
        return max(chunk, min(32 * chunk, (256 * chunk / jobs) / chunk * chunk))
    }

    /// copy-in: writes every stream from the pool, fsyncs and closes it, then (when no copy-out
    /// follows) reads it back untimed to verify it.
    static func copyIn(_ workspace: TargetWorkspace, _ context: WorkloadContext, verify: Bool) throws(BenchError)
        -> Measurement
    {
        let jobs = context.configuration.jobs
        let paths = (0..<jobs).map(workspace.largeFilePath)
        // Removing the previous run's file is not part of the copy.
        for path in paths { try BenchFileSystem.removeTree(path) }
        workspace.largeFilesWritten = false

        let started = ContinuousClock.now
        let cpu = CPUSection(workspace.processes)
        let results = WorkerThreads.run(jobs) { stream in
            capture { () throws(BenchError) in try Self.writeStream(stream, to: paths[stream], context, timed: true) }
        }
        let seconds = (ContinuousClock.now - started).seconds
        for result in results { try result.get() }
        workspace.largeFilesWritten = true

        var measurement = Measurement()
        measurement.values["throughput"] = Double(context.configuration.size) / 1e6 / seconds
        measurement.recordCPU("throughput", cpu, operations: context.configuration.size >> 20)
        if verify {
            try Self.verifyUntimed(workspace, context, into: &measurement)
        }
        return measurement
    }

    /// Writes the large file untimed (for a read workload run without copy-in).
    static func prepareUntimed(_ workspace: TargetWorkspace, _ context: WorkloadContext) throws(BenchError) {
        for stream in 0..<context.configuration.jobs {
            try BenchFileSystem.removeTree(workspace.largeFilePath(stream))
            try Self.writeStream(stream, to: workspace.largeFilePath(stream), context, timed: false)
        }
        workspace.largeFilesWritten = true
    }

    /// Reads every stream back and compares it with what was written (untimed).
    static func verifyUntimed(
        _ workspace: TargetWorkspace, _ context: WorkloadContext, into measurement: inout Measurement
    )
        throws(BenchError)
    {
        for stream in 0..<context.configuration.jobs {
            try context.cancellation.check()
            let path = workspace.largeFilePath(stream)
            if let mismatch = ChecksumVerifier.verifyFile(
                at: path, expected: context.largeDigests[stream], reportAs: LargeFileLayout.fileName(stream))
            {
                measurement.mismatches.append(mismatch)
            }
            measurement.verifiedBytes += context.layout.fileSizes[stream]
            measurement.verifiedFiles += 1
        }
    }

    /// copy-out (`cached` false: caches dropped first when possible) or copy-out-cached (an
    /// untimed read first, so the timed one is served from the page cache).
    static func copyOut(_ workspace: TargetWorkspace, _ context: WorkloadContext, cached: Bool) throws(BenchError)
        -> Measurement
    {
        let jobs = context.configuration.jobs
        let paths = (0..<jobs).map(workspace.largeFilePath)
        let batch = Self.batchSize(jobs: jobs)
        var measurement = Measurement()
        if cached {
            for path in paths { try Self.readStream(path, batch: batch, context, hashing: false) }
        } else if let reason = PageCacheDropper.drop() {
            measurement.notes.append(PageCacheDropper.warmNote(reason))
        }

        let cpu = CPUSection(workspace.processes)
        let results = WorkerThreads.run(jobs) { stream in
            capture { () throws(BenchError) in try Self.readStream(paths[stream], batch: batch, context, hashing: true)
            }
        }
        var seconds = 0.0
        for (stream, result) in results.enumerated() {
            let (streamSeconds, digest) = try result.get()
            seconds = max(seconds, streamSeconds)
            if let mismatch = ChecksumVerifier.compare(
                path: LargeFileLayout.fileName(stream), expected: context.largeDigests[stream], actual: digest)
            {
                measurement.mismatches.append(mismatch)
            }
            measurement.verifiedBytes += digest.length
            measurement.verifiedFiles += 1
        }
        measurement.values["throughput"] = Double(context.configuration.size) / 1e6 / seconds
        measurement.recordCPU("throughput", cpu, operations: context.configuration.size >> 20)
        return measurement
    }

    /// One copy-in stream: open, write every chunk, fsync, close.
    private static func writeStream(_ stream: Int, to path: String, _ context: WorkloadContext, timed: Bool)
        throws(BenchError)
    {
        let file = try OpenFile(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        for index in 0..<context.layout.chunkCount(file: stream) {
            try context.cancellation.check()
            let chunk = context.layout.chunk(file: stream, chunk: index, pool: context.pool)
            try file.write(chunk)
            if timed { context.progress.advance(by: chunk.count) }
        }
        try file.sync()
        try file.close()
    }

    /// One copy-out stream: reads `path` in 1 MiB requests, batch by batch; returns the seconds
    /// its clock ran and the digest of what it read (hashed outside the clock).
    @discardableResult
    private static func readStream(_ path: String, batch: Int, _ context: WorkloadContext, hashing: Bool)
        throws(BenchError) -> (Double, ContentDigest)
    {
        let buffer = AlignedBuffer(count: batch)
        var digest = ContentDigest()
        var watch = Stopwatch.started()
        let file = try OpenFile(reading: path, direct: false)
        while true {
            try context.cancellation.check()
            let got = try file.read(into: buffer.bytes)
            watch.stop()
            if hashing {
                digest.append(UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<got]))
                context.progress.advance(by: got)
            }
            watch.start()
            if got < batch { break }
        }
        try file.close()
        watch.stop()
        digest.finish()
        return (watch.seconds, digest)
    }
}

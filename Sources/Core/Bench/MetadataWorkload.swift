#if canImport(Glibc)
    import Glibc
#endif

/// metadata: create, stat, rename and unlink `--files` empty files in one fresh directory, each
/// phase timed on its own (ops/s).
///
/// create is `open(O_CREAT | O_EXCL)` plus `close` (what `touch` does); stat is `stat(2)`, and
/// checks each file is an empty regular file; rename moves each file to a new name in the same
/// directory; unlink removes it. With `--jobs` streams, stream *j* takes files *j*, *j + jobs*, …
/// of the one directory, so the streams contend on it as parallel builds do. No phase fsyncs.
enum MetadataWorkload {
    static let phases = ["create", "stat", "rename", "unlink"]

    static func run(_ workspace: TargetWorkspace, _ context: WorkloadContext) throws(BenchError) -> Measurement {
        let directory = workspace.metadataPath
        try BenchFileSystem.removeTree(directory)
        try BenchFileSystem.makeDirectory(directory)
        let count = context.configuration.files
        let jobs = context.configuration.jobs
        var measurement = Measurement()
        for phase in Self.phases {
            let started = ContinuousClock.now
            let cpu = CPUSection(workspace.processes)
            let results = WorkerThreads.run(jobs) { stream in
                capture { () throws(BenchError) in
                    var mismatches: [ChecksumMismatch] = []
                    var index = stream
                    while index < count {
                        try context.cancellation.check()
                        if let mismatch = try Self.perform(phase, index, in: directory) { mismatches.append(mismatch) }
                        context.progress.advance(by: 1)
                        index += jobs
                    }
                    return mismatches
                }
            }
            let seconds = (ContinuousClock.now - started).seconds
            for result in results { measurement.mismatches += try result.get() }
            measurement.values[phase] = Double(count) / seconds
            measurement.recordCPU(phase, cpu, operations: count)
        }
        measurement.verifiedFiles += count
        _ = try BenchFileSystem.call("rmdir", directory) { rmdir(directory) }
        return measurement
    }

    /// One operation of a phase on file `index`; a stat that finds something other than an
    /// empty regular file is a mismatch.
    private static func perform(_ phase: String, _ index: Int, in directory: String) throws(BenchError)
        -> ChecksumMismatch?
    {
        let original = directory + "/file-\(index)"
        let renamed = directory + "/renamed-\(index)"
        switch phase {
        case "create":
            let fd = try BenchFileSystem.call("create", original) {
                open(original, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            }
            if close(fd) != 0 && errno != EINTR { throw BenchError.system("close", original, errno: errno) }
        case "stat":
            var st = stat()
            _ = try BenchFileSystem.call("stat", original) { stat(original, &st) }
            if !BenchFileSystem.isRegularFile(st) || st.st_size != 0 {
                return ChecksumMismatch(
                    path: "metadata/file-\(index)",
                    detail: "stat: mode \(String(st.st_mode, radix: 8)), size \(st.st_size)")
            }
        case "rename":
            _ = try BenchFileSystem.call("rename", original) { rename(original, renamed) }
        default:
            try BenchFileSystem.removeFile(renamed)
        }
        return nil
    }
}

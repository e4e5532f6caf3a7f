#if canImport(Glibc)
    import Glibc
#endif

/// tree-in and tree-out: the generated source-like tree (``SourceTree``) created from memory and
/// copied back out, as `tar -xf` and `cp -r` would.
///
/// tree-in's clock covers every `mkdir`, `open`, `write` and `close`, and a final `syncfs` of the
/// target, so the tree is on stable storage when it stops. tree-out's clock covers a walk that
/// lists every directory and `lstat`s every entry (as `cp -r` does), then reading every file to
/// its end; each stream stops its clock while it checksums a 32 MiB batch of files. Streams
/// (`--jobs`) take every n-th file.
enum TreeWorkloads {
    /// Bytes of files a tree-out stream reads before checksumming them; at least the largest
    /// file the generator makes, plus one byte to see the end of file.
    static func arenaSize(jobs: Int, largestFile: Int) -> Int {
        max(largestFile + 1, min(32 << 20, (256 << 20) / jobs))
    }

    /// tree-in: removes the previous tree (untimed), creates it, syncs the filesystem; verifies
    /// it untimed when no tree-out follows.
    static func treeIn(_ workspace: TargetWorkspace, _ context: WorkloadContext, verify: Bool) throws(BenchError)
        -> Measurement
    {
        try BenchFileSystem.removeTree(workspace.treePath)
        workspace.treeWritten = false
        let started = ContinuousClock.now
        try Self.create(at: workspace.treePath, context, reportProgress: true)
        let seconds = (ContinuousClock.now - started).seconds
        workspace.treeWritten = true

        var measurement = Measurement()
        measurement.values["elapsed"] = seconds
        measurement.values["rate"] = Double(context.tree.files.count) / seconds
        if verify {
            for (index, file) in context.tree.files.enumerated() {
                try context.cancellation.check()
                if let mismatch = ChecksumVerifier.verifyFile(
                    at: workspace.treePath + "/" + file.path, expected: context.treeDigests[index],
                    reportAs: "tree/" + file.path)
                {
                    measurement.mismatches.append(mismatch)
                }
                measurement.verifiedBytes += file.size
                measurement.verifiedFiles += 1
            }
        }
        return measurement
    }

    /// Creates the tree untimed (for tree-out run without tree-in).
    static func prepareUntimed(_ workspace: TargetWorkspace, _ context: WorkloadContext) throws(BenchError) {
        try BenchFileSystem.removeTree(workspace.treePath)
        try Self.create(at: workspace.treePath, context, reportProgress: false)
        workspace.treeWritten = true
    }

    /// tree-out: drops caches when possible, walks and reads the tree, and checks that exactly
    /// the generated directories and files are there, with the generated content.
    static func treeOut(_ workspace: TargetWorkspace, _ context: WorkloadContext) throws(BenchError) -> Measurement {
        var measurement = Measurement()
        if let reason = PageCacheDropper.drop() {
            measurement.notes.append(PageCacheDropper.warmNote(reason))
        }
        let root = workspace.treePath
        let started = ContinuousClock.now
        var found: [(path: String, size: Int)] = []
        var directories: [String] = []
        try Self.walk(root, relative: "", files: &found, directories: &directories, context)
        let walkSeconds = (ContinuousClock.now - started).seconds

        // Entries that are not in the generated tree, or are the wrong size, fail without being read.
        var expectedIndex: [String: Int] = [:]
        for (index, file) in context.tree.files.enumerated() { expectedIndex[file.path] = index }
        var toRead: [(path: String, size: Int, expected: Int)] = []
        var seen = Set<String>()
        for entry in found {
            seen.insert(entry.path)
            guard let index = expectedIndex[entry.path] else {
                measurement.mismatches.append(
                    ChecksumMismatch(path: "tree/" + entry.path, detail: "not written by the bench"))
                continue
            }
            if entry.size != context.tree.files[index].size {
                measurement.mismatches.append(
                    ChecksumMismatch(
                        path: "tree/" + entry.path,
                        detail: "size \(entry.size) bytes, wrote \(context.tree.files[index].size)"))
                continue
            }
            toRead.append((entry.path, entry.size, index))
        }
        for file in context.tree.files where !seen.contains(file.path) {
            measurement.mismatches.append(ChecksumMismatch(path: "tree/" + file.path, detail: "missing"))
        }
        let directorySet = Set(directories)
        for directory in context.tree.directories where !directorySet.contains(directory) {
            measurement.mismatches.append(
                ChecksumMismatch(path: "tree/" + directory + "/", detail: "missing directory"))
        }

        let jobs = context.configuration.jobs
        let largest = context.tree.files.map(\.size).max() ?? 0
        let arena = Self.arenaSize(jobs: jobs, largestFile: largest)
        let work = toRead
        let results = WorkerThreads.run(jobs) { stream in
            capture { () throws(BenchError) in
                try Self.readStream(stream, of: jobs, files: work, root: root, arenaSize: arena, context)
            }
        }
        var readSeconds = 0.0
        for result in results {
            let (seconds, outcomes) = try result.get()
            readSeconds = max(readSeconds, seconds)
            for outcome in outcomes {
                let file = work[outcome.item]
                if let detail = outcome.failure {
                    measurement.mismatches.append(ChecksumMismatch(path: "tree/" + file.path, detail: detail))
                } else if let mismatch = ChecksumVerifier.compare(
                    path: "tree/" + file.path, expected: context.treeDigests[file.expected], actual: outcome.digest)
                {
                    measurement.mismatches.append(mismatch)
                }
                measurement.verifiedBytes += file.size
                measurement.verifiedFiles += 1
            }
        }
        let seconds = walkSeconds + readSeconds
        measurement.values["elapsed"] = seconds
        measurement.values["rate"] = Double(context.tree.files.count) / seconds
        return measurement
    }

    /// mkdir every directory in order, then write the files in `--jobs` streams, then syncfs.
    private static func create(at root: String, _ context: WorkloadContext, reportProgress: Bool) throws(BenchError) {
        try BenchFileSystem.makeDirectory(root)
        for directory in context.tree.directories {
            try context.cancellation.check()
            try BenchFileSystem.makeDirectory(root + "/" + directory)
        }
        let jobs = context.configuration.jobs
        let results = WorkerThreads.run(jobs) { stream in
            capture { () throws(BenchError) in
                var index = stream
                while index < context.tree.files.count {
                    try context.cancellation.check()
                    let file = context.tree.files[index]
                    let handle = try OpenFile(root + "/" + file.path, flags: O_WRONLY | O_CREAT | O_TRUNC)
                    if file.size > 0 {
                        try handle.write(context.pool.content(seed: file.contentSeed, length: file.size))
                    }
                    try handle.close()
                    if reportProgress { context.progress.advance(by: 1) }
                    index += jobs
                }
            }
        }
        for result in results { try result.get() }
        try BenchFileSystem.syncFileSystem(of: root)
    }

    /// Lists `directory` recursively, `lstat`ing every entry; regular files go to `files`,
    /// directories to `directories` (paths relative to the tree's root).
    private static func walk(
        _ directory: String, relative: String, files: inout [(path: String, size: Int)], directories: inout [String],
        _ context: WorkloadContext
    ) throws(BenchError) {
        for name in try BenchFileSystem.list(directory) {
            try context.cancellation.check()
            let path = directory + "/" + name
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            guard let st = try BenchFileSystem.status(path) else { continue }
            if BenchFileSystem.isDirectory(st) {
                directories.append(relativePath)
                try Self.walk(path, relative: relativePath, files: &files, directories: &directories, context)
            } else {
                files.append((relativePath, BenchFileSystem.isRegularFile(st) ? Int(st.st_size) : -1))
            }
        }
    }

    /// What reading one file gave: its digest, or why it could not be checked.
    struct ReadOutcome: Sendable {
        var item: Int
        var digest: ContentDigest
        var failure: String?
    }

    /// One tree-out stream: reads files `stream`, `stream + jobs`, ... into an arena and
    /// checksums the arena (clock stopped) whenever the next file does not fit.
    private static func readStream(
        _ stream: Int, of jobs: Int, files: [(path: String, size: Int, expected: Int)], root: String, arenaSize: Int,
        _ context: WorkloadContext
    ) throws(BenchError) -> (Double, [ReadOutcome]) {
        let arena = AlignedBuffer(count: arenaSize)
        var pending: [(item: Int, range: Range<Int>)] = []
        var outcomes: [ReadOutcome] = []
        var used = 0
        var watch = Stopwatch.started()

        func flush() {
            watch.stop()
            for (item, range) in pending {
                let digest = ContentDigest(bytes: UnsafeRawBufferPointer(rebasing: arena.bytes[range]))
                outcomes.append(ReadOutcome(item: item, digest: digest, failure: nil))
            }
            context.progress.advance(by: pending.count)
            pending.removeAll(keepingCapacity: true)
            used = 0
            watch.start()
        }

        var item = stream
        while item < files.count {
            try context.cancellation.check()
            let size = files[item].size
            if used + size + 1 > arenaSize { flush() }
            let region = UnsafeMutableRawBufferPointer(rebasing: arena.bytes[used..<used + size + 1])
            let file = try OpenFile(root + "/" + files[item].path, flags: O_RDONLY)
            let got = try file.read(into: region)
            try file.close()
            if got == size {
                pending.append((item, used..<used + size))
                used += size
            } else {
                outcomes.append(
                    ReadOutcome(
                        item: item, digest: ContentDigest(),
                        failure: "read \(got > size ? "more than" : "only") \(got) bytes of \(size) (lstat's size)"))
            }
            item += jobs
        }
        flush()
        watch.stop()
        return (watch.seconds, outcomes)
    }
}

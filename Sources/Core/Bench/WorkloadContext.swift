/// What every workload shares, read-only, across its threads: the settings, the data pool and
/// the expected digests, computed once before the first timed step.
struct WorkloadContext: Sendable {
    let configuration: BenchConfiguration
    let pool: DataPool
    let layout: LargeFileLayout
    /// Expected digest of each large-file stream (empty when no workload uses the large file).
    let largeDigests: [ContentDigest]
    let tree: SourceTree
    /// Expected digest of each tree file, in `tree.files` order (empty without tree workloads).
    let treeDigests: [ContentDigest]
    let progress: any BenchProgress
    let cancellation: BenchCancellation
}

/// One target's working directory and what the bench has left in it.
///
/// Used from the engine's thread only; workload threads get the paths, never this object.
final class TargetWorkspace {
    let target: BenchTarget
    /// `<target>/pohmelfs-bench-<random>`.
    let directory: String
    /// The large-file streams hold the layout's content (written by copy-in or setup).
    var largeFilesWritten = false
    /// The tree holds the generated content (written by tree-in or setup).
    var treeWritten = false
    /// Workloads that failed on this target; they are not retried in later runs.
    var failed: Set<Workload> = []
    /// Processes whose CPU per operation is reported beside this target's figures (`--cpu`).
    var processes: [WatchedProcess] = []

    init(target: BenchTarget, directory: String) {
        self.target = target
        self.directory = directory
    }

    func largeFilePath(_ stream: Int) -> String { self.directory + "/" + LargeFileLayout.fileName(stream) }
    var treePath: String { self.directory + "/tree" }
    var metadataPath: String { self.directory + "/metadata" }
    var atomicityPath: String { self.directory + "/atomic.bin" }
}

/// What one measurement produced: its figures by metric name, notes on how it was measured, and
/// what verification found.
struct Measurement {
    var values: [String: Double] = [:]
    var notes: [String] = []
    var mismatches: [ChecksumMismatch] = []
    var verifiedBytes = 0
    var verifiedFiles = 0
    /// Microseconds of CPU per operation, by metric name and then process role (`ProcessCPU`).
    var cpu: [String: [String: Double]] = [:]
}

/// Runs `body`, capturing its error as a value (for passing results out of worker threads).
@inline(__always)
func capture<T>(_ body: () throws(BenchError) -> T) -> Result<T, BenchError> {
    do {
        return .success(try body())
    } catch {
        return .failure(error)
    }
}

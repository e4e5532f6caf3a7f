import Synchronization

/// One measurement in a bench: a workload on a target in a run. The unit of progress reports.
public struct BenchStep: Sendable, Equatable {
    /// 1-based run number, and the number of runs.
    public var run: Int
    public var runs: Int
    /// 1-based position of this step among all steps of the bench, and their count.
    public var index: Int
    public var count: Int
    public var workload: Workload
    /// The target's letter ("A") and its path as given.
    public var targetLabel: String
    public var targetPath: String
    /// How much work the step will report through ``BenchProgress/advance(by:)`` (bytes for
    /// copies, files for trees, operations otherwise), and the unit's name.
    public var totalUnits: Int
    public var unit: BenchStep.Unit

    /// What a step's progress counts.
    public enum Unit: String, Sendable {
        case bytes, files, operations
    }
}

/// Where the engine reports progress: a progress bar on a terminal, plain lines otherwise.
///
/// `advance(by:)` is called from the workload's worker threads, often; an implementation must be
/// thread-safe and cheap (throttle drawing). The other calls come from the engine's thread.
public protocol BenchProgress: Sendable {
    /// A step begins.
    func stepStarted(_ step: BenchStep)
    /// Units of the current step are done.
    func advance(by units: Int)
    /// The step ended; `summary` is its headline figure ("412 MB/s") or the error.
    func stepFinished(_ step: BenchStep, summary: String)
    /// Something the user should know that is not a figure ("dropping caches", "preparing").
    func note(_ message: String)
}

/// Progress that goes nowhere (tests, `--json` to a pipe when nothing should be said).
public struct SilentProgress: BenchProgress {
    public init() {}
    public func stepStarted(_ step: BenchStep) {}
    public func advance(by units: Int) {}
    public func stepFinished(_ step: BenchStep, summary: String) {}
    public func note(_ message: String) {}
}

/// Set by a signal handler (SIGINT, SIGTERM) to stop a bench between operations; the engine
/// then removes its files and returns. Lock-free, so safe to set from a signal handler.
public final class BenchCancellation: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    /// Asks the bench to stop (async-signal-safe).
    public func cancel() { self.flag.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { self.flag.load(ordering: .relaxed) }

    /// Throws ``BenchError/Code/cancelled`` once cancelled.
    func check() throws(BenchError) {
        if self.isCancelled { throw BenchError(.cancelled, "interrupted") }
    }
}

import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a workload's streams on their own POSIX threads and waits for all of them.
///
/// The bench's I/O is blocking by design — one thread per stream, as fio's `psync` engine and
/// `cp` do — so it runs on plain threads, never on Swift's cooperative pool, where a blocked
/// `read(2)` would starve other tasks.
enum WorkerThreads {
    /// Calls `body(0)`, ..., `body(count - 1)` concurrently, each on its own thread (or on the
    /// calling thread when `count` is 1), and returns their results in index order.
    static func run<Result: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> Result) -> [Result] {
        precondition(count > 0)
        if count == 1 { return [body(0)] }
        let results = ResultSlots<Result>(count: count)
        var threads: [pthread_t] = []
        for index in 0..<count {
            let job = ThreadJob { results.store(body(index), at: index) }
            let context = Unmanaged.passRetained(job).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(
                &thread, nil,
                { raw in
                    Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue().body()
                    return nil
                }, context)
            precondition(status == 0, "pthread_create failed: \(status)")
            threads.append(thread)
        }
        for thread in threads {
            pthread_join(thread, nil)
        }
        return results.collect()
    }
}

/// The closure a thread runs, boxed to pass through `pthread_create`'s context pointer.
private final class ThreadJob: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// One result slot per thread.
private final class ResultSlots<Result: Sendable>: Sendable {
    /// Protected by its own mutex; each thread writes only its own index.
    private let slots: Mutex<[Result?]>

    init(count: Int) { self.slots = Mutex(Array(repeating: nil, count: count)) }

    func store(_ result: Result, at index: Int) {
        self.slots.withLock { $0[index] = result }
    }

    func collect() -> [Result] {
        self.slots.withLock { $0.map { $0! } }
    }
}

/// Measures elapsed wall-clock time, with pauses: a stream stops its watch while the bench
/// checksums what it just read, so that the figure is the filesystem's, not the hash's.
struct Stopwatch {
    private var startedAt: ContinuousClock.Instant?
    /// Time accumulated over the intervals between ``start()`` and ``stop()``.
    private(set) var elapsed: Duration = .zero

    init() {}

    /// A stopwatch already running.
    static func started() -> Stopwatch {
        var watch = Stopwatch()
        watch.start()
        return watch
    }

    mutating func start() {
        precondition(self.startedAt == nil, "stopwatch already running")
        self.startedAt = ContinuousClock.now
    }

    mutating func stop() {
        guard let startedAt = self.startedAt else { preconditionFailure("stopwatch not running") }
        self.elapsed += ContinuousClock.now - startedAt
        self.startedAt = nil
    }

    /// The accumulated time in seconds (stop the watch first).
    var seconds: Double { self.elapsed.seconds }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}

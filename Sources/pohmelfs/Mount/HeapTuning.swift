import CLinux

/// The mount's heap keeps the memory of its large request buffers instead of handing it back to
/// the kernel after every request.
///
/// A streamed WRITE is encoded into a frame of about 1 MiB (a transaction). With glibc's
/// defaults such a buffer is at first `mmap`ed, then served from a heap that is trimmed as soon
/// as more than about twice its size lies free at the top, so with a few writes in flight most
/// frames land in pages the kernel has just taken back: each write of a streaming copy
/// page-faulted and zeroed 1 MiB before copying into it (`clear_page_erms` under
/// `ByteBuffer._setBytes` was 14 % of the mount's samples in `perf record` during a 1 GiB copy).
/// Fixed thresholds keep buffers up to 4 MiB on the heap and let up to 16 MiB of it stay free:
/// the mount's CPU per MiB written fell from about 850 to 490 µs for 5 MiB more resident memory
/// (`pohmelfs bench --workload copy-in --cpu …` on a tmpfs export; with 8 MiB kept free the gain
/// was gone). 32 MiB, the first setting, cost no less CPU than 16 (525 against 530 µs per MiB,
/// four runs each) and kept up to 9 MiB more after a `dbench` (peak RSS 56.5 against 47.0 MiB).
/// The server is left at glibc's defaults: the same setting there cost 25 MiB of memory and saved
/// no CPU.
enum HeapTuning {
    /// Largest allocation kept on the heap rather than `mmap`ed on its own.
    static let largestHeapAllocation: Int32 = 4 << 20
    /// Free memory at the top of a heap kept before it is returned to the kernel.
    static let retainedFreeMemory: Int32 = 16 << 20

    /// Applies both thresholds to this process; call before the first request is sent.
    static func keepLargeBuffers() {
        _ = pohmelfs_set_heap_thresholds(Self.largestHeapAllocation, Self.retainedFreeMemory)
    }
}

/// Gives the free heap that `HeapTuning`'s trim threshold keeps back to the kernel once the mount
/// has gone quiet: the 16 MiB kept for a busy mount's next buffers are of no use to an idle one
/// (after `tar -xf` and `rm -rf` of /usr/include about 18 MiB of the mount's RSS was free heap).
///
/// `tick` is called every `period` with the number of requests the client has had answered so
/// far; when a whole period passed without one, the heap is trimmed (`malloc_trim(0)`, a few
/// milliseconds at most), once per quiet spell.
struct IdleHeapTrimmer {
    static let period: Duration = .seconds(10)
    private var lastCount: UInt64 = 0
    private var trimmed = true

    mutating func tick(answered count: UInt64) {
        defer { self.lastCount = count }
        guard count == self.lastCount else {
            self.trimmed = false
            return
        }
        guard !self.trimmed else { return }
        self.trimmed = true
        _ = pohmelfs_trim_heap()
    }
}

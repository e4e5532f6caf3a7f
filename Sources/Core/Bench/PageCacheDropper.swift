#if canImport(Glibc)
    import Glibc
#endif

/// `sync; echo 3 > /proc/sys/vm/drop_caches`: empties the kernel's page, dentry and inode caches
/// before a cold read, so that the read measures the filesystem rather than memory.
///
/// Only root may do it; otherwise (or if `/proc/sys` is read-only, as in some containers) the read
/// is warm and the report says so, with the reason.
enum PageCacheDropper {
    /// Drops the caches; nil on success, or why they could not be dropped.
    static func drop() -> String? {
        guard geteuid() == 0 else { return "not root" }
        sync()
        let fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open /proc/sys/vm/drop_caches: \(BenchError.describe(errno: errno))" }
        defer { close(fd) }
        let written = write(fd, "3\n", 2)
        guard written == 2 else { return "cannot write /proc/sys/vm/drop_caches: \(BenchError.describe(errno: errno))" }
        return nil
    }

    /// The note a warm read carries: "warm: caches not dropped (not root)".
    static func warmNote(_ reason: String) -> String { "warm: caches not dropped (\(reason))" }
}

import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor owned by one workload thread, closed exactly once: by ``close()`` (which
/// reports errors, as a copy must: NFS-like filesystems report write errors at close) or, after
/// an error, by `deinit`. Never shared between threads.
///
/// Every transfer loops until the whole buffer is moved, so a short `read` or `write` (a FUSE
/// filesystem may return one) never goes unnoticed.
final class OpenFile {
    /// The descriptor; -1 once closed.
    private(set) var descriptor: Int32
    let path: String

    /// `open(2)` with `O_CLOEXEC` added.
    init(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(BenchError) {
        self.descriptor = try BenchFileSystem.call("open", path) { open(path, flags | O_CLOEXEC, mode) }
        self.path = path
    }

    /// Opens for reading with `O_DIRECT` when `direct`, otherwise buffered.
    convenience init(reading path: String, direct: Bool) throws(BenchError) {
        try self.init(path, flags: O_RDONLY | (direct ? POHMELFS_O_DIRECT : 0))
    }

    deinit {
        if self.descriptor >= 0 { Glibc.close(self.descriptor) }
    }

    /// Closes the descriptor and reports a failed close.
    func close() throws(BenchError) {
        let descriptor = self.descriptor
        self.descriptor = -1
        if Glibc.close(descriptor) != 0 && errno != EINTR {
            throw BenchError.system("close", self.path, errno: errno)
        }
    }

    /// Writes all of `bytes` at the current offset.
    func write(_ bytes: UnsafeRawBufferPointer) throws(BenchError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.count - offset
            let written = try BenchFileSystem.call("write", self.path) {
                Glibc.write(self.descriptor, bytes.baseAddress! + offset, count)
            }
            offset += written
        }
    }

    /// Writes all of `bytes` at file offset `position`.
    func write(_ bytes: UnsafeRawBufferPointer, at position: Int) throws(BenchError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.count - offset
            let written = try BenchFileSystem.call("pwrite", self.path) {
                pwrite(self.descriptor, bytes.baseAddress! + offset, count, off_t(position + offset))
            }
            offset += written
        }
    }

    /// Reads until `buffer` is full or the file ends, in requests of at most `requestSize`
    /// bytes; returns the bytes read.
    func read(into buffer: UnsafeMutableRawBufferPointer, requestSize: Int = ContentDigest.chunkSize) throws(BenchError)
        -> Int
    {
        var filled = 0
        while filled < buffer.count {
            let count = min(requestSize, buffer.count - filled)
            let got = try BenchFileSystem.call("read", self.path) {
                Glibc.read(self.descriptor, buffer.baseAddress! + filled, count)
            }
            if got == 0 { break }
            filled += got
        }
        return filled
    }

    /// Reads at file offset `position` until `buffer` is full or the file ends; returns the
    /// bytes read.
    func read(into buffer: UnsafeMutableRawBufferPointer, at position: Int) throws(BenchError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = buffer.count - filled
            let got = try BenchFileSystem.call("pread", self.path) {
                pread(self.descriptor, buffer.baseAddress! + filled, count, off_t(position + filled))
            }
            if got == 0 { break }
            filled += got
        }
        return filled
    }

    /// `fsync(2)`.
    func sync() throws(BenchError) {
        _ = try BenchFileSystem.call("fsync", self.path) { fsync(self.descriptor) }
    }
}

/// A page-aligned buffer (a valid `O_DIRECT` buffer), owned by one thread and freed on deinit.
final class AlignedBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    /// Allocates `count` bytes aligned to 4 KiB and touches every page, so that first-touch page
    /// faults are not charged to the timed region.
    init(count: Int) {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 4096, max(count, 1)) == 0, let raw else {
            fatalError("pohmelfs bench: cannot allocate \(count) bytes")
        }
        memset(raw, 0, count)
        self.bytes = UnsafeMutableRawBufferPointer(start: raw, count: count)
    }

    deinit {
        free(self.bytes.baseAddress)
    }
}

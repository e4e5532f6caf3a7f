#if canImport(Glibc)
import Glibc
#endif

/// Runs a system call that returns -1 and sets errno on failure; retries on EINTR and throws
/// the errno otherwise. The only place the local store turns errno into a Swift error.
@inline(__always)
func systemCall<T: FixedWidthInteger>(_ body: () -> T) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = errno
        if error == EINTR { continue }
        throw Errno(error)
    }
}

/// Owns a file descriptor and closes it exactly once, when the last reference goes.
///
/// Operations in flight hold a reference, so a RELEASE that races a READ on the same handle
/// cannot close the descriptor under the reader (or let its number be reused).
final class FileDescriptor: Sendable {
    let rawValue: Int32

    init(_ rawValue: Int32) { self.rawValue = rawValue }

    deinit { close(self.rawValue) }

    /// The `/proc/self/fd/N` path that reopens this descriptor's file (never for symlinks: see
    /// `ObjectReference.reopenPath()`).
    var procPath: String { "/proc/self/fd/\(self.rawValue)" }
}

extension FileAttributes {
    init(_ st: stat) {
        self.init(
            inode: UInt64(st.st_ino),
            size: UInt64(max(st.st_size, 0)),
            blocks: UInt64(max(st.st_blocks, 0)),
            accessTime: Timestamp(seconds: Int64(st.st_atim.tv_sec), nanoseconds: UInt32(st.st_atim.tv_nsec)),
            modificationTime: Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: UInt32(st.st_mtim.tv_nsec)),
            changeTime: Timestamp(seconds: Int64(st.st_ctim.tv_sec), nanoseconds: UInt32(st.st_ctim.tv_nsec)),
            mode: UInt32(st.st_mode),
            linkCount: UInt32(truncatingIfNeeded: st.st_nlink),
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: UInt64(st.st_rdev),
            blockSize: UInt32(truncatingIfNeeded: st.st_blksize)
        )
    }
}

/// `fstat` of a descriptor (an O_PATH one included).
func statDescriptor(_ fd: Int32) throws -> stat {
    var st = stat()
    _ = try systemCall { fstat(fd, &st) }
    return st
}

/// Calls `body` with `name` as a NUL-terminated C string.
func withCName<T>(_ name: FileName, _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
    try (name.bytes + [0]).withUnsafeBufferPointer { bytes in
        try bytes.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}

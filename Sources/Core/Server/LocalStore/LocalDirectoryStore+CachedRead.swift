import CLinux
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads the page cache can answer, without blocking: `preadv2(RWF_NOWAIT)`.
///
/// The kernel answers RWF_NOWAIT with EAGAIN when the first byte would need I/O (and starts the
/// readahead that the blocking retry then finds under way), and with a short count when only
/// part of the range is cached. A short count is continued the same way, so the result is
/// either the whole of what `read` returns (up to end of file, where a read returns 0) or
/// nothing at all.
///
/// A file on tmpfs or ramfs (`LocalFile.isMemoryBacked`) is read with a plain `pread`: those
/// filesystems refuse RWF_NOWAIT, yet their pages are memory, so every read of a tmpfs export
/// would otherwise take two thread hops for nothing (all 79,718 reads of a QD16 random-read
/// bench went to the pool before this).
extension LocalDirectoryStore {
    public func readWithoutBlocking(_ file: LocalFile, offset: UInt64, size: Int, into buffer: inout ByteBuffer) throws
        -> Bool
    {
        guard offset <= UInt64(Int64.max) else { throw Errno.invalid }
        let start = buffer.writerIndex
        var complete = true
        let inMemory = file.isMemoryBacked
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { target in
            var done = 0
            while done < size {
                let count =
                    inMemory
                    ? pread(file.fd, target.baseAddress! + done, size - done, off_t(offset) + off_t(done))
                    : Int(pohmelfs_pread_nowait(
                        file.fd, target.baseAddress! + done, size - done, Int64(offset) + Int64(done)))
                if count > 0 {
                    done += Int(count)
                    continue
                }
                if count == 0 { break }
                let error = errno
                if error == EINTR { continue }
                // EAGAIN: not cached. EOPNOTSUPP: the filesystem cannot promise not to block.
                if error == EAGAIN || error == EOPNOTSUPP {
                    complete = false
                    return 0
                }
                throw Errno(error)
            }
            return done
        }
        if !complete { buffer.moveWriterIndex(to: start) }
        return complete
    }
}

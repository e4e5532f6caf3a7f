import CFuse3
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// The session's reads of requests and writes of replies on /dev/fuse, through
/// `fuse_session_custom_io`: plain read(2) and writev(2), except that the FUSE_INIT exchange is
/// shown to the bridge's `InitReplyAmendment`, which adds the capability flags libfuse 3.14
/// cannot ask for. Nothing else is looked at or changed.
enum FUSECustomIO {
    /// Installs the custom I/O on a mounted session (its /dev/fuse descriptor), before the loop
    /// reads INIT. Returns false if libfuse refused it (the session then keeps its own I/O).
    static func install(on session: OpaquePointer) -> Bool {
        var io = fuse_custom_io()
        io.read = { fd, buffer, length, userdata in
            let count = Glibc.read(fd, buffer, length)
            if count > 0, let buffer, let userdata {
                let saved = errno
                let amendment = Unmanaged<FUSEBridge>.fromOpaque(userdata).takeUnretainedValue().initAmendment
                amendment.observeRequest(UnsafeRawBufferPointer(start: buffer, count: count))
                errno = saved
            }
            return count
        }
        io.writev = { fd, iov, count, userdata in
            guard count >= 2, let iov, let userdata else { return Glibc.writev(fd, iov, count) }
            let header = UnsafeRawBufferPointer(start: iov[0].iov_base, count: iov[0].iov_len)
            let body = UnsafeRawBufferPointer(start: iov[1].iov_base, count: iov[1].iov_len)
            let amendment = Unmanaged<FUSEBridge>.fromOpaque(userdata).takeUnretainedValue().initAmendment
            guard let amended = amendment.amendedReply(header: header, body: body) else {
                return Glibc.writev(fd, iov, count)
            }
            return amended.withUnsafeBytes { bytes in
                var vectors = Array(UnsafeBufferPointer(start: iov, count: Int(count)))
                vectors[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                return Glibc.writev(fd, vectors, count)
            }
        }
        return fuse_session_custom_io(session, &io, fuse_session_fd(session)) == 0
    }
}

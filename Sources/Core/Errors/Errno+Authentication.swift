#if canImport(Glibc)
import Glibc
#endif

extension Errno {
    /// The server requires authentication this connection has not given: HELLO without AUTH on a
    /// server that requires a shared secret, or a plaintext client of a TLS server. Chosen over
    /// `EACCES` so a client can tell it from an export it may not read.
    public static let credentialsRequired = Errno(ENOKEY)
    /// AUTH presented a wrong secret (or came where no secret may be sent: without TLS).
    public static let credentialsRejected = Errno(EKEYREJECTED)
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The permission rule for files that hold secrets (the shared secret, private keys).
enum PrivateFile {
    /// Throws unless `path` exists and neither its group nor others have any permission on it.
    static func requireOwnerOnly(_ path: String, what: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecurityError(.badMaterial, "cannot read the \(what) \(path): \(String(cString: strerror(errno)))")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw SecurityError(
                .insecurePermissions,
                "the \(what) \(path) has mode \(String(format: "%04o", mode)); it must be readable by its owner only: chmod 600 \(path)")
        }
    }

    /// Writes `bytes` to a new file at `path` with mode 0600 (never wider, whatever the umask).
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw SecurityError(.generationFailed, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        _ = fchmod(descriptor, mode)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard result > 0 else {
                throw SecurityError(.generationFailed, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += result
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// The secret that authenticates object handles, kept in `<state directory>/handle-key`
/// (32 random bytes, mode 0600) so handles stay valid across restarts. Created on first start.
enum HandleKeyFile {
    static let name = "handle-key"
    static let length = 32

    static func load(stateDirectory: String) throws -> [UInt8] {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw ServerError(.stateDirectory, "cannot create state directory \(stateDirectory): \(Errno.current)")
        }
        let path = stateDirectory + "/" + Self.name
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            var key = [UInt8](repeating: 0, count: Self.length)
            let count = key.withUnsafeMutableBytes { read(fd, $0.baseAddress, Self.length) }
            guard count == Self.length else {
                throw ServerError(.stateDirectory, "handle key \(path) is damaged (expected \(Self.length) bytes)")
            }
            return key
        }
        guard errno == ENOENT else {
            throw ServerError(.stateDirectory, "cannot read handle key \(path): \(Errno.current)")
        }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<Self.length).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let temporary = path + ".new"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else {
            throw ServerError(.stateDirectory, "cannot write handle key \(path): \(Errno.current)")
        }
        let written = key.withUnsafeBytes { write(out, $0.baseAddress, Self.length) }
        let synced = fsync(out)
        close(out)
        guard written == Self.length, synced == 0, rename(temporary, path) == 0 else {
            throw ServerError(.stateDirectory, "cannot write handle key \(path): \(Errno.current)")
        }
        return key
    }
}

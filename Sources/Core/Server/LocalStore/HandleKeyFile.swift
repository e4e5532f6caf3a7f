#if canImport(Glibc)
import Glibc
#endif

/// The handle key in a file: `<state directory>/handle-key` by default, or one file several
/// servers of an export share (`serve --handle-key FILE`, on shared storage or copied to each).
/// 32 bytes, mode 0600.
///
/// Created race-free: the key is written and synced under a name of this process's own, then
/// linked into place with `link(2)`, which fails with EEXIST when another server got there first
/// (atomic on local filesystems, NFS and CephFS alike). A reader therefore never sees a partly
/// written key, and servers starting together agree on one.
public struct HandleKeyFile: HandleKeyStorage {
    public static let name = "handle-key"
    public let path: String

    public init(path: String) { self.path = path }

    public var description: String { self.path }

    /// The key kept in `stateDirectory` (created, mode 0700, if missing).
    static func load(stateDirectory: String) throws -> [UInt8] {
        if mkdir(stateDirectory, 0o700) != 0 && errno != EEXIST {
            throw ServerError(.stateDirectory, "cannot create state directory \(stateDirectory): \(Errno.current)")
        }
        return try HandleKey.loadOrCreate(from: HandleKeyFile(path: stateDirectory + "/" + Self.name))
    }

    public func read() throws -> [UInt8]? {
        let fd = open(self.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw ServerError(.stateDirectory, "cannot read handle key \(self.path): \(Errno.current)")
        }
        defer { close(fd) }
        // One byte more than a key: a longer file is damaged, not truncated silently.
        var key = [UInt8](repeating: 0, count: HandleKey.length + 1)
        let count = key.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw ServerError(.stateDirectory, "cannot read handle key \(self.path): \(Errno.current)") }
        return Array(key.prefix(count))
    }

    public func createExclusively(_ key: [UInt8]) throws -> Bool {
        let temporary = "\(self.path).new.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw ServerError(.stateDirectory, "cannot write handle key \(self.path): \(Errno.current)") }
        defer { unlink(temporary) }
        let written = key.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
        let synced = fsync(out)
        close(out)
        guard written == key.count, synced == 0 else {
            throw ServerError(.stateDirectory, "cannot write handle key \(self.path): \(Errno.current)")
        }
        if link(temporary, self.path) == 0 { return true }
        if errno == EEXIST { return false }
        throw ServerError(.stateDirectory, "cannot write handle key \(self.path): \(Errno.current)")
    }
}

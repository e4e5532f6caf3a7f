import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The path-level system calls the bench makes, each retried on EINTR and turned into a
/// ``BenchError`` naming the operation and the path. The one place the bench meets errno.
enum BenchFileSystem {
    /// Runs a call that returns -1 with errno set on failure, retrying on EINTR.
    @inline(__always)
    static func call<T: FixedWidthInteger>(_ operation: String, _ path: String, _ body: () -> T) throws(BenchError) -> T
    {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code == EINTR { continue }
            throw BenchError.system(operation, path, errno: code)
        }
    }

    /// `lstat`, or nil when nothing is there (ENOENT).
    static func status(_ path: String) throws(BenchError) -> stat? {
        var st = stat()
        if lstat(path, &st) == 0 { return st }
        let code = errno
        if code == ENOENT { return nil }
        throw BenchError.system("stat", path, errno: code)
    }

    /// Whether a `stat` describes a directory or a regular file.
    static func isDirectory(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFDIR }
    static func isRegularFile(_ st: stat) -> Bool { (st.st_mode & S_IFMT) == S_IFREG }

    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws(BenchError) {
        _ = try Self.call("mkdir", path) { mkdir(path, mode) }
    }

    static func removeFile(_ path: String) throws(BenchError) {
        _ = try Self.call("unlink", path) { unlink(path) }
    }

    /// The names in a directory, without `.` and `..`, in the order `readdir` returns them.
    static func list(_ path: String) throws(BenchError) -> [String] {
        guard let directory = opendir(path) else { throw BenchError.system("opendir", path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw BenchError.system("readdir", path, errno: errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// `rm -rf path`: removes a file or a directory tree; nothing there is not an error.
    static func removeTree(_ path: String) throws(BenchError) {
        guard let st = try Self.status(path) else { return }
        if Self.isDirectory(st) {
            for name in try Self.list(path) {
                try Self.removeTree(path + "/" + name)
            }
            _ = try Self.call("rmdir", path) { rmdir(path) }
        } else {
            try Self.removeFile(path)
        }
    }

    /// `syncfs(2)` on the filesystem holding `path`: everything written there reaches stable
    /// storage (for a FUSE mount, the kernel's dirty pages reach the daemon).
    static func syncFileSystem(of path: String) throws(BenchError) {
        let fd = try Self.call("open", path) { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        _ = try Self.call("syncfs", path) { pohmelfs_syncfs(fd) }
    }

    /// Free bytes and free inodes for an unprivileged user (`f_bavail`, `f_favail`), or nil for
    /// a count the filesystem does not report (FUSE filesystems may report zero blocks or inodes)
    /// or reports as unlimited (CephFS: `f_favail` is all ones).
    static func freeSpace(_ path: String) throws(BenchError) -> (bytes: Int?, inodes: Int?) {
        var vfs = statvfs()
        _ = try Self.call("statvfs", path) { statvfs(path, &vfs) }
        var bytes: Int?
        if vfs.f_blocks > 0, let available = Int(exactly: vfs.f_bavail), let size = Int(exactly: vfs.f_frsize) {
            let (product, overflow) = available.multipliedReportingOverflow(by: size)
            bytes = overflow ? nil : product
        }
        let inodes = vfs.f_files > 0 ? Int(exactly: vfs.f_favail) : nil
        return (bytes, inodes)
    }

    /// The canonical absolute path (`realpath(3)`), or the path unchanged when it cannot be resolved.
    static func canonicalPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes `text` to `path`, replacing it (used for `--plot`).
    static func writeText(_ text: String, to path: String) throws(BenchError) {
        let file = try OpenFile(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { raw in capture { () throws(BenchError) in try file.write(raw) } }
        try result.get()
        try file.close()
    }
}

/// Writes a text file: the `--plot` output. Errors are one line naming the path.
public func writeBenchOutput(_ text: String, to path: String) throws(BenchError) {
    try BenchFileSystem.writeText(text, to: path)
}

#if canImport(Glibc)
    import Glibc
#endif

/// The checks every target passes before any work starts: it exists, is a directory, is
/// writable, and has room for the selected workloads.
///
/// Writability is tested the only reliable way — by creating the bench's working directory
/// (`pohmelfs-bench-<random>`) in it — since `access(2)` answers yes to root on a read-only bind
/// mount's permission bits and knows nothing of a FUSE server's refusals.
enum TargetPreflight {
    /// Space and inodes the selected workloads need on each target.
    struct Requirement: Equatable {
        var bytes: Int
        var inodes: Int
        /// What the bytes are for, for the message ("--size 1.0 GiB, a 92 MiB tree").
        var explanation: String
    }

    /// What `configuration` will keep on a target at once: the large file, the tree, the
    /// metadata files and the atomicity file all stay until the end of the run.
    static func requirement(for configuration: BenchConfiguration, tree: SourceTree?) -> Requirement {
        var bytes = 1 << 20
        var inodes = 16
        var parts: [String] = []
        if configuration.usesLargeFile {
            bytes += configuration.size + configuration.jobs * 4096
            inodes += configuration.jobs
            parts.append("--size \(ByteCount(configuration.size))")
        }
        if let tree {
            bytes += tree.footprint()
            inodes += tree.files.count + tree.directories.count + 1
            parts.append("a \(ByteCount(tree.totalBytes)) tree of \(tree.files.count) files")
        }
        if configuration.workloads.contains(.metadata) {
            bytes += 4096 * (1 + configuration.files / 64)
            inodes += configuration.files
            parts.append("\(configuration.files) empty files")
        }
        if configuration.workloads.contains(.checkAtomic) {
            bytes += AtomicityCheck.fileSize
            inodes += 1
            parts.append("a \(ByteCount(AtomicityCheck.fileSize)) atomicity file")
        }
        return Requirement(bytes: bytes, inodes: inodes, explanation: parts.joined(separator: ", "))
    }

    /// Checks `path` and creates the working directory in it; returns the target and the
    /// working directory's path, or the one-line reason it cannot be used.
    static func prepare(path: String, index: Int, requirement: Requirement, mounts: MountTable) -> Result<
        (BenchTarget, String), BenchError
    > {
        let st: stat?
        do {
            st = try BenchFileSystem.status(path)
        } catch {
            return .failure(BenchError(.targetMissing, "\(path): cannot be examined: \(error.message)"))
        }
        guard var st else {
            return .failure(BenchError(.targetMissing, "\(path): no such directory"))
        }
        // Follow a symbolic link to a directory, as `cd` would.
        if (st.st_mode & S_IFMT) == S_IFLNK { _ = stat(path, &st) }
        guard BenchFileSystem.isDirectory(st) else {
            return .failure(BenchError(.targetNotDirectory, "\(path): not a directory"))
        }
        let resolved = BenchFileSystem.canonicalPath(path)
        if let space = try? BenchFileSystem.freeSpace(path) {
            if let free = space.bytes, free < requirement.bytes {
                return .failure(
                    BenchError(
                        .targetTooSmall,
                        "\(path): too small: \(ByteCount(free)) free, the selected workloads need "
                            + "\(ByteCount(requirement.bytes)) (\(requirement.explanation))"))
            }
            if let free = space.inodes, free < requirement.inodes {
                return .failure(
                    BenchError(
                        .targetTooSmall,
                        "\(path): too small: \(free) free inodes, the selected workloads need \(requirement.inodes)"))
            }
        }
        var random = SystemRandomNumberGenerator()
        let suffix = String(random.next() & 0xFFFF_FFFF, radix: 16)
        let workingDirectory = (resolved.hasSuffix("/") ? resolved : resolved + "/") + "pohmelfs-bench-" + suffix
        do {
            try BenchFileSystem.makeDirectory(workingDirectory, mode: 0o700)
        } catch {
            let reason = error.errno.map { BenchError.describe(errno: $0) } ?? error.message
            return .failure(BenchError(.targetNotWritable, "\(path): not writable: \(reason)"))
        }
        let mount = mounts.entry(containing: resolved)
        let target = BenchTarget(
            index: index, path: path, resolvedPath: resolved, filesystem: mount?.type ?? "unknown",
            mountPoint: mount?.mountPoint ?? "")
        return .success((target, workingDirectory))
    }
}

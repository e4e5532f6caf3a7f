/// Makes a ``SourceTree`` of a given number of files, the same one for the same seed.
///
/// Shape: about one directory per 12 files, each attached under a uniformly chosen earlier
/// directory no deeper than ``maximumDepth`` (a random recursive tree, so depth grows with the
/// logarithm of the count, 5–7 levels for 10,000 files); top-level directories get the names a
/// checkout has (`src`, `include`, `docs`, ...), deeper ones words from a small vocabulary. Files
/// land in uniformly chosen directories with names like `buffer_pool.c`, extensions weighted
/// towards C headers and sources, and sizes from ``FileSizeDistribution``.
public struct SourceTreeGenerator: Sendable {
    public var fileCount: Int
    public var seed: UInt64
    public var sizes = FileSizeDistribution()
    /// Files per directory, on average.
    public var filesPerDirectory = 12
    /// Deepest directory level below the root.
    public var maximumDepth = 8

    public init(fileCount: Int, seed: UInt64) {
        self.fileCount = fileCount
        self.seed = seed
    }

    static let topLevelNames = [
        "src", "include", "lib", "docs", "tests", "tools", "scripts", "arch", "drivers", "examples", "third_party",
    ]
    static let words = [
        "core", "net", "io", "util", "cache", "buffer", "page", "lock", "wire", "proto", "client", "server", "mount",
        "fs", "inode", "dir", "file", "block", "queue", "sched", "mem", "alloc", "hash", "map", "tree", "list",
        "string", "parse", "format", "log", "trace", "config", "test", "bench", "crypto", "auth", "session", "event",
        "loop", "timer", "signal", "thread", "pool", "stream", "codec", "frame", "packet", "socket", "pipe", "vfs",
        "attr", "xattr", "acl", "quota", "journal", "commit", "replay", "snapshot", "compat", "common", "internal",
    ]
    /// Extensions (empty for names such as `Makefile`) and their weights.
    static let extensions: [(String, Int)] = [
        (".c", 30), (".h", 26), (".py", 8), (".swift", 6), (".rs", 5), (".md", 5), (".txt", 3), (".json", 3),
        (".sh", 3), (".S", 2), (".yml", 2), ("", 3), (".in", 2), (".cc", 2),
    ]
    static let plainNames = ["Makefile", "README", "Kconfig", "LICENSE", "CMakeLists.txt", "BUILD"]

    /// Generates the tree. Deterministic: the output depends only on `fileCount`, `seed` and the
    /// generator's parameters.
    public func generate() -> SourceTree {
        var generator = SplitMix64.derived(seed: self.seed, stream: 0x5452_4545)  // "TREE"
        // Directory 0 is the root (path "").
        var paths = [""]
        var depths = [0]
        var namesIn: [Set<String>] = [[]]
        let directoryCount = max(0, self.fileCount / self.filesPerDirectory)
        for _ in 0..<directoryCount {
            var parent = generator.nextInt(below: paths.count)
            while depths[parent] >= self.maximumDepth { parent = generator.nextInt(below: paths.count) }
            let base: String
            if parent == 0 && generator.nextUnitDouble() < 0.7 {
                base = Self.topLevelNames[generator.nextInt(below: Self.topLevelNames.count)]
            } else {
                base = Self.words[generator.nextInt(below: Self.words.count)]
            }
            let name = Self.unique(base, suffix: "", in: &namesIn[parent])
            paths.append(paths[parent].isEmpty ? name : paths[parent] + "/" + name)
            depths.append(depths[parent] + 1)
            namesIn.append([])
        }

        let totalWeight = Self.extensions.reduce(0) { $0 + $1.1 }
        var files: [SourceTree.File] = []
        files.reserveCapacity(self.fileCount)
        for _ in 0..<self.fileCount {
            let directory = generator.nextInt(below: paths.count)
            var pick = generator.nextInt(below: totalWeight)
            var fileExtension = ""
            for (candidate, weight) in Self.extensions {
                if pick < weight {
                    fileExtension = candidate
                    break
                }
                pick -= weight
            }
            let base: String
            if fileExtension.isEmpty {
                base = Self.plainNames[generator.nextInt(below: Self.plainNames.count)]
            } else if generator.nextUnitDouble() < 0.5 {
                base = Self.words[generator.nextInt(below: Self.words.count)]
            } else {
                base =
                    Self.words[generator.nextInt(below: Self.words.count)] + "_"
                    + Self.words[generator.nextInt(below: Self.words.count)]
            }
            let name = Self.unique(base, suffix: fileExtension, in: &namesIn[directory])
            let path = paths[directory].isEmpty ? name : paths[directory] + "/" + name
            let size = self.sizes.sample(&generator)
            files.append(SourceTree.File(path: path, size: size, contentSeed: generator.next()))
        }
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        let directories = paths.dropFirst().sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return SourceTree(directories: directories, files: files)
    }

    /// `base + suffix`, or `base_2 + suffix`, `base_3 + suffix`... whichever is not yet taken in
    /// the directory; records the name as taken.
    private static func unique(_ base: String, suffix: String, in taken: inout Set<String>) -> String {
        var name = base + suffix
        var counter = 2
        while taken.contains(name) {
            name = "\(base)_\(counter)\(suffix)"
            counter += 1
        }
        taken.insert(name)
        return name
    }
}

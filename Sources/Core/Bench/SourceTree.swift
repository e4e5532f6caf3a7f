/// A generated tree of directories and files shaped like a source checkout: what tree-in
/// creates and tree-out reads back.
///
/// Paths are relative to the tree's root, use `/`, and never start with it. Directories are
/// sorted so that every parent comes before its children; files are sorted by path, so those of
/// one directory are created together, as `tar -x` would.
public struct SourceTree: Sendable, Equatable {
    /// One regular file: where it goes, how big it is, and which pool bytes fill it.
    public struct File: Sendable, Equatable {
        public var path: String
        public var size: Int
        /// Picks the file's content from the ``DataPool`` (``DataPool/content(seed:length:)``).
        public var contentSeed: UInt64
    }

    /// Every directory but the root, parents first.
    public var directories: [String]
    /// Every file, sorted by path.
    public var files: [File]

    /// Sum of all file sizes.
    public var totalBytes: Int { self.files.reduce(0) { $0 + $1.size } }

    /// The size the tree takes on a filesystem with `blockSize` blocks: each file rounded up to
    /// whole blocks, each directory one block (an estimate for the free-space check).
    public func footprint(blockSize: Int = 4096) -> Int {
        let fileBlocks = self.files.reduce(0) { $0 + ($1.size + blockSize - 1) / blockSize }
        return (fileBlocks + self.directories.count + 1) * blockSize
    }
}

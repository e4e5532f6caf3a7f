/// One directory the bench measures, as the report names it.
public struct BenchTarget: Codable, Sendable, Equatable {
    /// Position on the command line; the first (0) is the reference for ratios.
    public var index: Int
    /// "A", "B", "C"... in command-line order: short names for the table and the chart.
    public var label: String
    /// The path as given on the command line.
    public var path: String
    /// The canonical absolute path.
    public var resolvedPath: String
    /// The filesystem type holding it, from /proc/self/mounts ("ext4", "fuse.pohmelfs"), or
    /// "unknown".
    public var filesystem: String
    /// Where that filesystem is mounted.
    public var mountPoint: String

    public init(index: Int, path: String, resolvedPath: String, filesystem: String, mountPoint: String) {
        self.index = index
        self.label = BenchTarget.label(for: index)
        self.path = path
        self.resolvedPath = resolvedPath
        self.filesystem = filesystem
        self.mountPoint = mountPoint
    }

    /// "A" ... "Z", then "T27", "T28"...
    public static func label(for index: Int) -> String {
        index < 26 ? String(UnicodeScalar(UInt8(65 + index))) : "T\(index + 1)"
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// File sizes shaped like a source tree: a few empty files, a lognormal body around a few KiB,
/// and a Pareto tail of large files.
///
/// Studies of real file systems find the body of the size distribution lognormal and the tail
/// heavier than lognormal (Agrawal, Bolosky, Douceur and Lorch, "A Five-Year Study of File-System
/// Metadata", FAST 2007; Downey, "The structural cause of file size distributions", 2001). The
/// defaults give a median near 3 KiB and a mean near 10 KiB: 10,000 files come to about 100 MiB,
/// about `/usr/include` on a Debian machine (116 MiB in 8,872 entries), with a handful of files
/// of a megabyte or more.
public struct FileSizeDistribution: Sendable, Equatable {
    /// Share of empty files (`__init__.py`, `.gitkeep`).
    public var emptyFraction = 0.015
    /// Median of the lognormal body, in bytes.
    public var bodyMedian = 3.0 * 1024
    /// Standard deviation of the body's logarithm.
    public var bodySigma = 1.4
    /// Share of files drawn from the tail instead of the body.
    public var tailFraction = 0.015
    /// Smallest tail size (the Pareto scale), in bytes.
    public var tailMinimum = 32.0 * 1024
    /// Pareto shape: smaller is heavier.
    public var tailShape = 1.3
    /// No file is larger than this (the data pool must hold the largest file).
    public var maximum = 8 << 20

    public init() {}

    /// One size drawn from `generator`.
    public func sample(_ generator: inout SplitMix64) -> Int {
        let pick = generator.nextUnitDouble()
        let size: Double
        if pick < self.emptyFraction {
            return 0
        } else if pick < self.emptyFraction + self.tailFraction {
            let u = 1 - generator.nextUnitDouble()  // (0, 1]
            size = self.tailMinimum / pow(u, 1 / self.tailShape)
        } else {
            size = self.bodyMedian * exp(self.bodySigma * generator.nextGaussian())
        }
        return max(1, min(self.maximum, Int(size.rounded())))
    }
}

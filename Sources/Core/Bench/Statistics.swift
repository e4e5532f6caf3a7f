/// Median, minimum and maximum of one figure's samples, one sample per run.
///
/// The median is the middle sample, or the mean of the two middle samples for an even count: on
/// a noisy machine it ignores one bad run where the mean would not. Min and max show the spread.
public struct Statistics: Hashable, Sendable {
    public var median: Double
    public var minimum: Double
    public var maximum: Double
    public var count: Int

    /// nil for no samples; non-finite samples are a programming error.
    public init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        precondition(samples.allSatisfy(\.isFinite), "samples must be finite")
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        self.median = sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        self.minimum = sorted[0]
        self.maximum = sorted[sorted.count - 1]
        self.count = sorted.count
    }
}

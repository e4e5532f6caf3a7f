#if canImport(Glibc)
    import Glibc
#endif

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014):
/// the deterministic generator behind everything the bench makes up — file sizes, names, tree
/// shape, data bytes, random offsets.
///
/// The same seed gives the same sequence on every machine and every run, which is what makes
/// `--seed` reproduce a tree exactly. It is not cryptographic and does not need to be.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The whole state: one 64-bit counter advanced by the golden-ratio increment.
    public private(set) var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    /// The next 64 uniformly distributed bits.
    public mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) with 53 bits of precision.
    public mutating func nextUnitDouble() -> Double {
        Double(self.next() >> 11) * 0x1.0p-53
    }

    /// A uniform integer in `0..<bound` (bound > 0), without modulo bias worth caring about for
    /// the bounds the bench uses (Lemire's multiply-shift).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        return Int(self.next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A standard normal variate (Box–Muller; one of the pair is discarded to keep the state a
    /// single counter).
    public mutating func nextGaussian() -> Double {
        // 1 - u keeps the logarithm's argument in (0, 1].
        let u1 = 1 - self.nextUnitDouble()
        let u2 = self.nextUnitDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A generator for an independent stream derived from this seed and `stream` (a file index,
    /// a thread number), so that streams do not depend on the order they are consumed in.
    public static func derived(seed: UInt64, stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }
}

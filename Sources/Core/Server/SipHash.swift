/// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed pseudo-random function over short
/// inputs, used to authenticate object handles so a client cannot forge one.
///
/// Swift's `Hasher` is SipHash too but takes no caller-chosen key; the dependencies DESIGN.md
/// allows carry no MAC. Checked against the reference test vectors in `SipHashTests`.
public struct SipHash24: Sendable {
    public var k0: UInt64
    public var k1: UInt64

    public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// The 64-bit tag of `message`.
    public func hash(_ message: [UInt8]) -> UInt64 {
        var v0: UInt64 = self.k0 ^ 0x736f_6d65_7073_6575
        var v1: UInt64 = self.k1 ^ 0x646f_7261_6e64_6f6d
        var v2: UInt64 = self.k0 ^ 0x6c79_6765_6e65_7261
        var v3: UInt64 = self.k1 ^ 0x7465_6462_7974_6573

        @inline(__always) func round() {
            v0 = v0 &+ v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
            v2 = v2 &+ v3; v3 = v3.rotatedLeft(16); v3 ^= v2
            v0 = v0 &+ v3; v3 = v3.rotatedLeft(21); v3 ^= v0
            v2 = v2 &+ v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
        }

        let wholeWords = message.count / 8
        for word in 0..<wholeWords {
            var m: UInt64 = 0
            for byte in 0..<8 { m |= UInt64(message[word * 8 + byte]) << (8 * UInt64(byte)) }
            v3 ^= m
            round()
            round()
            v0 ^= m
        }
        var last = UInt64(truncatingIfNeeded: message.count) << 56
        for byte in 0..<(message.count % 8) {
            last |= UInt64(message[wholeWords * 8 + byte]) << (8 * UInt64(byte))
        }
        v3 ^= last
        round()
        round()
        v0 ^= last
        v2 ^= 0xff
        round()
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    @inline(__always) fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 {
        (self << count) | (self >> (64 - count))
    }
}

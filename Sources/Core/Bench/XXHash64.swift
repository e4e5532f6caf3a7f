/// xxHash64 (Yann Collet, XXH64 as specified in xxhash's `doc/xxhash_spec.md`): the bench's
/// checksum for every byte it writes and reads back.
///
/// Why this hash: it is non-cryptographic (nobody is forging benchmark files), 64 bits wide (a
/// random corruption slips through with probability 2⁻⁶⁴), runs at several GB/s in a release
/// build on one core, and has published test vectors, so this implementation is checked against
/// the reference rather than against itself. A one-shot function is all the bench needs: data is
/// hashed in 1 MiB chunks (see ``ContentDigest``).
public enum XXHash64 {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    /// The XXH64 of `bytes` with `seed`.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let count = bytes.count
        guard let base = bytes.baseAddress, count > 0 else { return Self.avalanche(seed &+ Self.prime5) }
        var p = base
        let end = base + count
        var h: UInt64

        if count >= 32 {
            var v1 = seed &+ Self.prime1 &+ Self.prime2
            var v2 = seed &+ Self.prime2
            var v3 = seed
            var v4 = seed &- Self.prime1
            let limit = end - 32
            while p <= limit {
                v1 = Self.round(v1, Self.load64(p))
                v2 = Self.round(v2, Self.load64(p + 8))
                v3 = Self.round(v3, Self.load64(p + 16))
                v4 = Self.round(v4, Self.load64(p + 24))
                p += 32
            }
            h = Self.rotate(v1, 1) &+ Self.rotate(v2, 7) &+ Self.rotate(v3, 12) &+ Self.rotate(v4, 18)
            h = Self.mergeRound(h, v1)
            h = Self.mergeRound(h, v2)
            h = Self.mergeRound(h, v3)
            h = Self.mergeRound(h, v4)
        } else {
            h = seed &+ Self.prime5
        }
        h &+= UInt64(count)

        while end - p >= 8 {
            h ^= Self.round(0, Self.load64(p))
            h = Self.rotate(h, 27) &* Self.prime1 &+ Self.prime4
            p += 8
        }
        if end - p >= 4 {
            h ^= UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))) &* Self.prime1
            h = Self.rotate(h, 23) &* Self.prime2 &+ Self.prime3
            p += 4
        }
        while p < end {
            h ^= UInt64(p.load(as: UInt8.self)) &* Self.prime5
            h = Self.rotate(h, 11) &* Self.prime1
            p += 1
        }
        return Self.avalanche(h)
    }

    /// The XXH64 of a byte array (tests and small inputs).
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { Self.hash($0, seed: seed) }
    }

    @inline(__always)
    static func load64(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    }

    @inline(__always)
    static func rotate(_ x: UInt64, _ r: UInt64) -> UInt64 {
        (x << r) | (x >> (64 - r))
    }

    @inline(__always)
    static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        Self.rotate(accumulator &+ input &* Self.prime2, 31) &* Self.prime1
    }

    @inline(__always)
    static func mergeRound(_ accumulator: UInt64, _ value: UInt64) -> UInt64 {
        (accumulator ^ Self.round(0, value)) &* Self.prime1 &+ Self.prime4
    }

    @inline(__always)
    static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= Self.prime2
        h ^= h >> 29
        h &*= Self.prime3
        h ^= h >> 32
        return h
    }
}

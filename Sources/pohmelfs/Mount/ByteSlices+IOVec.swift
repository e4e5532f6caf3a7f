import PohmelfsCore
import Glibc
import NIOCore

extension ByteSlices {
    /// Runs `body` with one `iovec` per slice, first to last, pointing into the slices' own
    /// storage: valid only during the call.
    func withIOVecs<Result>(_ body: (UnsafeBufferPointer<iovec>) -> Result) -> Result {
        var vectors: [iovec] = []
        vectors.reserveCapacity(self.rest.count + 1)
        return Self.pinning(self.all[...], into: &vectors, body)
    }

    /// Keeps each slice's bytes pinned (nested `withUnsafeReadableBytes`) while the vectors
    /// pointing into them are used.
    private static func pinning<Result>(
        _ slices: ArraySlice<ByteBuffer>, into vectors: inout [iovec], _ body: (UnsafeBufferPointer<iovec>) -> Result
    ) -> Result {
        guard let slice = slices.first else { return vectors.withUnsafeBufferPointer(body) }
        return slice.withUnsafeReadableBytes { bytes in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count))
            return Self.pinning(slices.dropFirst(), into: &vectors, body)
        }
    }
}

import NIOCore

/// Bytes that may have arrived in several socket reads: the slice of the first read and, when
/// they spanned several, the slices of the later ones, in order.
///
/// A large payload is kept this way instead of being merged into one buffer (`FrameAssembler`),
/// so a READ reply reaches the kernel with `fuse_reply_iov` straight from the buffers the socket
/// was read into. Readers that need one contiguous buffer ask for `merged`, which copies only
/// when there is more than one slice. `rest` is empty for nearly every frame, and an empty
/// array costs no allocation.
public struct ByteSlices: Sendable {
    public var first: ByteBuffer
    public var rest: [ByteBuffer]

    public init(_ buffer: ByteBuffer) {
        self.first = buffer
        self.rest = []
    }

    public init(first: ByteBuffer, rest: [ByteBuffer]) {
        self.first = first
        self.rest = rest
    }

    public var readableBytes: Int {
        self.rest.reduce(self.first.readableBytes) { $0 + $1.readableBytes }
    }

    /// Whether the bytes are in more than one buffer.
    public var isScattered: Bool { !self.rest.isEmpty }

    /// Every slice, first to last.
    public var all: [ByteBuffer] { [self.first] + self.rest }

    /// The bytes in one buffer: `first` itself unless they are scattered, else a copy.
    public var merged: ByteBuffer {
        guard self.isScattered else { return self.first }
        var buffer = self.first
        buffer.reserveCapacity(minimumWritableBytes: self.readableBytes - self.first.readableBytes)
        for var slice in self.rest { buffer.writeBuffer(&slice) }
        return buffer
    }
}

extension ByteSlices: Equatable {
    /// Equal when the bytes are, however they are sliced.
    public static func == (lhs: ByteSlices, rhs: ByteSlices) -> Bool {
        lhs.merged == rhs.merged
    }
}

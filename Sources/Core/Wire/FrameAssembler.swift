import NIOCore

/// Cuts a byte stream into frames, as `FrameDecoder` does, without merging a large payload's
/// socket reads into one buffer.
///
/// A frame that arrives whole in one read is a slice of that read, as with `FrameDecoder`. A
/// frame that spans reads is where a merging decoder copies: NIO's `ByteToMessageHandler` grows
/// its buffer and appends each read to it, so a 1 MiB READ reply was copied once more between the
/// socket and `fuse_reply_buf` (about 17 % of the client's CPU during a cold read). Here:
///
/// - a payload of at least `scatterThreshold` bytes that spans reads is kept as one slice of each
///   read (`ByteSlices`); its first slice holds the header's first `contiguousPrefix` payload
///   bytes, so a message's fixed fields never straddle slices;
/// - anything smaller is merged, copying only the bytes it needs (the rest of a read after a
///   frame ends is not copied along with it).
///
/// A header is checked as soon as all of it is buffered (bad magic, version, flags, opcode, or a
/// payload longer than `maximumPayload` throw `WireError` before any payload is kept).
public struct FrameAssembler {
    /// Payloads at least this long that span reads are kept scattered; shorter ones are merged.
    public static let scatterThreshold = 64 * 1024
    /// How many payload bytes the first slice of a scattered payload holds (more than the fixed
    /// fields of any message that carries data, the caller's identity included).
    public static let contiguousPrefix = 1024

    private let decoder: FrameDecoder
    /// Bytes of a frame begun but not yet decidable: its header is incomplete, or it is short and
    /// incomplete, or it is long and its prefix is incomplete.
    private var pending: ByteBuffer?
    /// The frame whose payload is being gathered scattered, and how many bytes it still needs.
    private var scattered: (header: MessageHeader, body: ByteSlices, missing: Int)?

    public init(maximumPayload: UInt32 = ProtocolVersion.defaultMaximumPayload) {
        self.decoder = FrameDecoder(maximumPayload: maximumPayload)
    }

    /// Whether bytes of an unfinished frame are held.
    public var holdsPartialFrame: Bool {
        self.scattered != nil || (self.pending?.readableBytes ?? 0) > 0
    }

    /// How many bytes of an unfinished frame are held (for the error when the stream ends).
    public var heldBytes: Int {
        if let scattered { return MessageHeader.size + scattered.body.readableBytes }
        return self.pending?.readableBytes ?? 0
    }

    /// Takes one read's bytes and hands every frame they complete to `emit`, in order.
    public mutating func feed(_ input: ByteBuffer, _ emit: (Frame) throws -> Void) throws {
        var input = input
        while input.readableBytes > 0 {
            if self.scattered != nil {
                try self.gather(&input, emit)
            } else if var pending = self.pending.take() {
                // Copy in only what makes the pending frame decidable, never the rest of the read.
                let wanted = try self.bytesWanted(by: pending) - pending.readableBytes
                var head = input.readSlice(length: min(wanted, input.readableBytes))!
                pending.writeBuffer(&head)
                try self.drain(&pending, emit)
            } else {
                try self.drain(&input, emit)
            }
        }
    }

    /// Emits the whole frames at the front of `buffer`, then starts gathering a scattered payload
    /// with what is left, or keeps it pending. Consumes all of `buffer`.
    private mutating func drain(_ buffer: inout ByteBuffer, _ emit: (Frame) throws -> Void) throws {
        while let frame = try self.decoder.decodeFrame(from: &buffer) { try emit(frame) }
        guard buffer.readableBytes > 0 else { return }
        if let header = try self.decoder.header(at: buffer), Int(header.payloadLength) >= Self.scatterThreshold,
            buffer.readableBytes >= MessageHeader.size + Self.contiguousPrefix
        {
            buffer.moveReaderIndex(forwardBy: MessageHeader.size)
            let first = buffer.readSlice(length: buffer.readableBytes)!
            self.scattered = (header, ByteSlices(first), Int(header.payloadLength) - first.readableBytes)
        } else {
            self.pending = buffer.readSlice(length: buffer.readableBytes)!
        }
    }

    /// Adds the front of `input` to the scattered payload, as a slice, and emits the frame once
    /// it is complete.
    private mutating func gather(_ input: inout ByteBuffer, _ emit: (Frame) throws -> Void) throws {
        guard var gathering = self.scattered.take() else { return }
        let slice = input.readSlice(length: min(gathering.missing, input.readableBytes))!
        gathering.body.rest.append(slice)
        gathering.missing -= slice.readableBytes
        guard gathering.missing == 0 else {
            self.scattered = gathering
            return
        }
        try emit(Frame(header: gathering.header, body: gathering.body))
    }

    /// How many bytes, header included, `pending` must hold before it is decidable: the header;
    /// then a short frame whole, or a long frame's header and prefix.
    private func bytesWanted(by pending: ByteBuffer) throws -> Int {
        guard let header = try self.decoder.header(at: pending) else { return MessageHeader.size }
        let payload = Int(header.payloadLength)
        return MessageHeader.size + (payload >= Self.scatterThreshold ? Self.contiguousPrefix : payload)
    }
}

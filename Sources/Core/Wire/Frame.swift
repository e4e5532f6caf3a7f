import NIOCore

/// One decoded frame: its header and its payload, still encoded.
///
/// The payload is slices of the connection's receive buffers, not a copy: one slice, or for a
/// large payload that spanned several socket reads, one slice of each (`FrameAssembler`), so read
/// data travels from the socket to the kernel without being copied in between.
public struct Frame: Sendable {
    public var header: MessageHeader
    /// The payload as it arrived. When scattered, `body.first` holds at least
    /// `FrameAssembler.contiguousPrefix` bytes, so a message's fixed fields are in one buffer.
    public var body: ByteSlices

    public init(header: MessageHeader, payload: ByteBuffer) {
        self.header = header
        self.body = ByteSlices(payload)
    }

    public init(header: MessageHeader, body: ByteSlices) {
        self.header = header
        self.body = body
    }

    /// The payload in one buffer: a copy when it arrived scattered (see `ByteSlices.merged`).
    public var payload: ByteBuffer { self.body.merged }
}

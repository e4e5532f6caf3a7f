import NIOCore

/// One decoded frame: its header and its payload, still encoded.
///
/// `payload` is a slice of the connection's receive buffer, not a copy, so read data travels
/// from the socket to `fuse_reply_buf` without being copied in between.
public struct Frame: Sendable {
    public var header: MessageHeader
    public var payload: ByteBuffer

    public init(header: MessageHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }
}

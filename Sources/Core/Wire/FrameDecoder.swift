import NIOCore

/// Splits a buffered byte stream into frames: a `MessageHeader` and a payload slice. The
/// connections' pipelines use it through `FrameAssembler`, which adds what arrives in pieces.
///
/// Rejects, with a `WireError`, a bad magic, an unsupported version, unknown flags, an unknown
/// opcode, and a payload longer than `maximumPayload` (checked before any of it is buffered, so
/// a header announcing 4 GiB costs nothing).
public struct FrameDecoder: Sendable {
    public var maximumPayload: UInt32

    public init(maximumPayload: UInt32 = ProtocolVersion.defaultMaximumPayload) {
        self.maximumPayload = maximumPayload
    }

    /// The next frame at the front of `buffer`, consumed; nil until a whole frame is buffered.
    public func decodeFrame(from buffer: inout ByteBuffer) throws -> Frame? {
        guard let header = try self.header(at: buffer) else { return nil }
        guard buffer.readableBytes >= MessageHeader.size + Int(header.payloadLength) else { return nil }
        buffer.moveReaderIndex(forwardBy: MessageHeader.size)
        let payload = buffer.readSlice(length: Int(header.payloadLength))!
        return Frame(header: header, payload: payload)
    }

    /// The header at the front of `buffer`, checked, without consuming it; nil until all of it
    /// is buffered.
    public func header(at buffer: ByteBuffer) throws -> MessageHeader? {
        guard buffer.readableBytes >= MessageHeader.size else { return nil }
        var peek = buffer.getSlice(at: buffer.readerIndex, length: MessageHeader.size)!
        let header = try MessageHeader(from: &peek)
        guard header.payloadLength <= self.maximumPayload else {
            throw WireError(
                .frameTooLarge,
                "\(header.opcode) frame announces \(header.payloadLength) payload bytes, cap is \(self.maximumPayload)"
            )
        }
        return header
    }
}

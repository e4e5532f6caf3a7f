import NIOCore

/// Splits a byte stream into frames: a `MessageHeader` and a payload slice.
///
/// Rejects, with a `WireError`, a bad magic, an unsupported version, unknown flags, an unknown
/// opcode, and a payload longer than `maximumPayload` (checked before any of it is buffered, so
/// a header announcing 4 GiB costs nothing). The pipeline's error handler closes the connection.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame

    public var maximumPayload: UInt32

    public init(maximumPayload: UInt32 = ProtocolVersion.defaultMaximumPayload) {
        self.maximumPayload = maximumPayload
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try self.decodeFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw WireError(.truncated, "connection closed inside a frame (\(buffer.readableBytes) bytes pending)")
        }
        return .needMoreData
    }

    /// The decoding step without a channel: returns nil until a whole frame is buffered.
    public func decodeFrame(from buffer: inout ByteBuffer) throws -> Frame? {
        guard buffer.readableBytes >= MessageHeader.size else { return nil }
        var peek = buffer.getSlice(at: buffer.readerIndex, length: MessageHeader.size)!
        let header = try MessageHeader(from: &peek)
        guard header.payloadLength <= self.maximumPayload else {
            throw WireError(
                .frameTooLarge,
                "\(header.opcode) frame announces \(header.payloadLength) payload bytes, cap is \(self.maximumPayload)"
            )
        }
        guard buffer.readableBytes >= MessageHeader.size + Int(header.payloadLength) else { return nil }
        buffer.moveReaderIndex(forwardBy: MessageHeader.size)
        let payload = buffer.readSlice(length: Int(header.payloadLength))!
        return Frame(header: header, payload: payload)
    }
}

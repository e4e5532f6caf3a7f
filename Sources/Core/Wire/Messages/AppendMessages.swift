import NIOCore

/// APPEND: `data` at the server's end of file, as one transaction. The client sends it for
/// every `write(2)` on a handle opened with O_APPEND (when the server has
/// `ProtocolVersion.Capabilities.atomicAppend`): the kernel's idea of the end of file, from which
/// it would compute a WRITE's offset, may be stale when other clients append too.
///
/// The server takes the exclusive transaction lock from its end of file onwards, writes there,
/// and answers the offset it used, so one APPEND up to the negotiated transaction size lands as
/// one contiguous record however many clients append at once. Replay-unsafe: a resent copy is
/// answered from the session's reply cache, never appended twice.
public struct AppendRequest: WireRequest {
    public typealias Response = AppendResponse
    public static let opcode = Opcode.append
    public var file: FileHandleID
    public var data: ByteBuffer

    public init(file: FileHandleID, data: ByteBuffer) {
        self.file = file
        self.data = data
    }
    public func encode(into buffer: inout ByteBuffer) {
        self.data.withUnsafeReadableBytes { Self.encode(file: self.file, bytes: $0, into: &buffer) }
    }

    /// Encodes an APPEND straight from memory the caller owns (the kernel's write buffer).
    public static func encode(file: FileHandleID, bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeWire(file)
        buffer.writeWire(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.data = try buffer.readWireSlice(maximum: Int(UInt32.max), field: "data")
    }
}

/// Where an APPEND landed: `offset` is the file's size just before it, `count` the bytes written.
public struct AppendResponse: WireMessage {
    public var offset: UInt64
    public var count: UInt64

    public init(offset: UInt64, count: UInt64) {
        self.offset = offset
        self.count = count
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.offset)
        buffer.writeWire(self.count)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.offset = try buffer.readWire(field: "offset")
        self.count = try buffer.readWire(field: "count")
    }
}

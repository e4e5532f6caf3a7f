import NIOCore

/// WRITEBACK_GRANT: asks for the exclusive write-back grant on the file behind the open `file`.
/// While a client holds it, it may answer writes to the file from its own buffer and send them
/// later (on fsync, close, a timer or memory pressure); without it every write goes to the server
/// before it is answered. The server answers at once when nobody else holds the grant, and after
/// recalling it (RECALL) from the holder otherwise; `granted` false means the server does not
/// give write-back grants (switched off) and the client writes through.
public struct WritebackGrantRequest: WireRequest {
    public typealias Response = WritebackGrantResponse
    public static let opcode = Opcode.writebackGrant
    public var file: FileHandleID

    public init(file: FileHandleID) { self.file = file }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.file) }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
    }
}

public struct WritebackGrantResponse: WireMessage {
    public var granted: Bool

    public init(granted: Bool) { self.granted = granted }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.granted) }
    public init(from buffer: inout ByteBuffer) throws {
        self.granted = try buffer.readWireBool(field: "granted")
    }
}

/// RECALL (server to client): give back the write-back grant on the object: write every dirty
/// byte of it to the server, stop buffering writes to it, then answer GRANT_RELEASE naming the
/// notice id (the header's transaction field, nonzero). Another client is waiting to open, read,
/// write or change the file until then, or until the server's invalidation timeout.
public struct RecallNotice: WireNotice {
    public static let opcode = Opcode.recall
    public var handle: ObjectHandle

    public init(handle: ObjectHandle) { self.handle = handle }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.handle) }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
    }
}

/// GRANT_RELEASE (client to server): the client has written back what RECALL `notice` asked for
/// and no longer holds the grant.
public struct GrantReleaseRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.grantRelease
    public var notice: TransactionID

    public init(notice: TransactionID) { self.notice = notice }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.notice.rawValue) }
    public init(from buffer: inout ByteBuffer) throws {
        self.notice = TransactionID(try buffer.readWire(field: "notice"))
    }
}

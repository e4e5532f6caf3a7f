import NIOCore

/// INVALIDATE (server to client): drop cached pages of the object in `offset..<offset+length`
/// (length 0 = to end of file) and its cached attributes. The notice's header carries a nonzero
/// notice id in its transaction field; the client answers with INVALIDATE_DONE naming it once
/// the pages are gone, and the server acknowledges the write that caused it only then.
///
/// `offset` `UInt64.max` means "attributes only" (a change of mode, owner or times).
public struct InvalidateNotice: WireNotice {
    public static let opcode = Opcode.invalidate
    /// The `offset` of an attributes-only invalidation.
    public static let attributesOnly = UInt64.max
    public var handle: ObjectHandle
    public var offset: UInt64
    public var length: UInt64

    public init(handle: ObjectHandle, offset: UInt64, length: UInt64) {
        self.handle = handle
        self.offset = offset
        self.length = length
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWire(self.offset)
        buffer.writeWire(self.length)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.offset = try buffer.readWire(field: "offset")
        self.length = try buffer.readWire(field: "length")
    }
}

/// LOCK_GRANTED (server to client): the blocking lock request `transaction` has been granted.
/// Reserved in version 1 for POSIX locks across clients.
public struct LockGrantedNotice: WireNotice {
    public static let opcode = Opcode.lockGranted
    public var transaction: TransactionID

    public init(transaction: TransactionID) { self.transaction = transaction }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.transaction.rawValue) }
    public init(from buffer: inout ByteBuffer) throws {
        self.transaction = TransactionID(try buffer.readWire(field: "transaction"))
    }
}

/// INVALIDATE_DONE (client to server): the client has dropped what INVALIDATE `notice` named.
public struct InvalidateDoneRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.invalidateDone
    public var notice: TransactionID

    public init(notice: TransactionID) { self.notice = notice }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.notice.rawValue) }
    public init(from buffer: inout ByteBuffer) throws {
        self.notice = TransactionID(try buffer.readWire(field: "notice"))
    }
}

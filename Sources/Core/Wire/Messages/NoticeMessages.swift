import NIOCore

/// INVALIDATE (server to client): drop cached pages of the object in `offset..<offset+length`
/// (length 0 = to end of file) and its cached attributes. Reserved in version 1: the framing and
/// codec exist; the coherent cache that sends and honours it comes with the cache work.
public struct InvalidateNotice: WireNotice {
    public static let opcode = Opcode.invalidate
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

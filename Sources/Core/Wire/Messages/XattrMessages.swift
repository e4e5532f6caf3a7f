import NIOCore

/// SETXATTR: `setxattr(2)` with XATTR_CREATE / XATTR_REPLACE in `flags`.
public struct SetxattrRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.setxattr
    public var handle: ObjectHandle
    public var name: [UInt8]
    public var value: [UInt8]
    public var flags: UInt32

    public init(handle: ObjectHandle, name: [UInt8], value: [UInt8], flags: UInt32) {
        self.handle = handle
        self.name = name
        self.value = value
        self.flags = flags
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWireBytes(self.name)
        buffer.writeWireBytes(self.value)
        buffer.writeWire(self.flags)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.name = try buffer.readWireBytes(maximum: XattrResponse.maximumNameLength, field: "name")
        self.value = try buffer.readWireBytes(maximum: ByteBuffer.wireMaximumBlob, field: "value")
        self.flags = try buffer.readWire(field: "flags")
    }
}

/// GETXATTR: with `size` 0 the reply reports the value's length only; otherwise the value, or
/// ERANGE when it is longer than `size`.
public struct GetxattrRequest: WireRequest {
    public typealias Response = XattrResponse
    public static let opcode = Opcode.getxattr
    public var handle: ObjectHandle
    public var name: [UInt8]
    public var size: UInt32

    public init(handle: ObjectHandle, name: [UInt8], size: UInt32) {
        self.handle = handle
        self.name = name
        self.size = size
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWireBytes(self.name)
        buffer.writeWire(self.size)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.name = try buffer.readWireBytes(maximum: XattrResponse.maximumNameLength, field: "name")
        self.size = try buffer.readWire(field: "size")
    }
}

/// LISTXATTR: the NUL-separated list of names, with the same `size` convention as GETXATTR.
public struct ListxattrRequest: WireRequest {
    public typealias Response = XattrResponse
    public static let opcode = Opcode.listxattr
    public var handle: ObjectHandle
    public var size: UInt32

    public init(handle: ObjectHandle, size: UInt32) {
        self.handle = handle
        self.size = size
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWire(self.size)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.size = try buffer.readWire(field: "size")
    }
}

/// REMOVEXATTR: remove one extended attribute.
public struct RemovexattrRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.removexattr
    public var handle: ObjectHandle
    public var name: [UInt8]

    public init(handle: ObjectHandle, name: [UInt8]) {
        self.handle = handle
        self.name = name
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWireBytes(self.name)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.name = try buffer.readWireBytes(maximum: XattrResponse.maximumNameLength, field: "name")
    }
}

/// The reply to GETXATTR and LISTXATTR: the full length, and the bytes when they were asked for.
public struct XattrResponse: WireMessage {
    /// XATTR_NAME_MAX.
    public static let maximumNameLength = 255
    public var size: UInt32
    public var value: [UInt8]

    public init(size: UInt32, value: [UInt8]) {
        self.size = size
        self.value = value
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.size)
        buffer.writeWireBytes(self.value)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.size = try buffer.readWire(field: "size")
        self.value = try buffer.readWireBytes(maximum: ByteBuffer.wireMaximumBlob, field: "value")
    }
}

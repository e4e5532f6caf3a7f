import NIOCore

/// Field-level codecs shared by every message: little-endian integers, length-prefixed byte
/// strings, handles, timestamps and attributes. Readers throw `WireError.truncated` naming the
/// field instead of returning nil, so message decoders read as straight-line code.
extension ByteBuffer {
    /// Longest variable-length byte field (xattr values, symlink targets) a message may carry.
    public static let wireMaximumBlob = 64 * 1024
    /// Longest file name on the wire; the server answers ENAMETOOLONG above 255.
    public static let wireMaximumName = 4096

    @inlinable
    public mutating func readWire<T: FixedWidthInteger>(_ type: T.Type = T.self, field: StaticString) throws -> T {
        guard let value = self.readInteger(endianness: .little, as: T.self) else {
            throw WireError(.truncated, "input ends inside field '\(field)'")
        }
        return value
    }

    @inlinable
    public mutating func writeWire<T: FixedWidthInteger>(_ value: T) {
        self.writeInteger(value, endianness: .little)
    }

    public mutating func readWireBool(field: StaticString) throws -> Bool {
        let raw: UInt8 = try self.readWire(field: field)
        guard raw <= 1 else { throw WireError(.invalidValue, "field '\(field)' is \(raw), not a boolean") }
        return raw == 1
    }

    public mutating func writeWire(_ value: Bool) {
        self.writeInteger(value ? 1 as UInt8 : 0)
    }

    /// A byte string prefixed by its UInt32 length, at most `maximum` bytes.
    public mutating func readWireBytes(maximum: Int, field: StaticString) throws -> [UInt8] {
        let length: UInt32 = try self.readWire(field: field)
        guard length <= maximum else {
            throw WireError(.invalidValue, "field '\(field)' is \(length) bytes, more than \(maximum)")
        }
        guard let bytes = self.readBytes(length: Int(length)) else {
            throw WireError(.truncated, "input ends inside field '\(field)'")
        }
        return bytes
    }

    public mutating func writeWireBytes(_ bytes: [UInt8]) {
        self.writeWire(UInt32(bytes.count))
        self.writeBytes(bytes)
    }

    /// A payload slice prefixed by its UInt32 length: shares storage with `self`, no copy.
    public mutating func readWireSlice(maximum: Int, field: StaticString) throws -> ByteBuffer {
        let length: UInt32 = try self.readWire(field: field)
        guard length <= maximum else {
            throw WireError(.invalidValue, "field '\(field)' is \(length) bytes, more than \(maximum)")
        }
        guard let slice = self.readSlice(length: Int(length)) else {
            throw WireError(.truncated, "input ends inside field '\(field)'")
        }
        return slice
    }

    public mutating func writeWireSlice(_ slice: ByteBuffer) {
        self.writeWire(UInt32(slice.readableBytes))
        var copy = slice
        self.writeBuffer(&copy)
    }

    public mutating func readWireName(field: StaticString) throws -> FileName {
        FileName(bytes: try self.readWireBytes(maximum: ByteBuffer.wireMaximumName, field: field))
    }

    public mutating func writeWire(_ name: FileName) {
        self.writeWireBytes(name.bytes)
    }

    public mutating func readWireHandle(field: StaticString) throws -> ObjectHandle {
        ObjectHandle(bytes: try self.readWireBytes(maximum: ObjectHandle.maximumSize, field: field))
    }

    public mutating func writeWire(_ handle: ObjectHandle) {
        self.writeWireBytes(handle.bytes)
    }

    public mutating func readWireFileHandle(field: StaticString) throws -> FileHandleID {
        FileHandleID(try self.readWire(field: field))
    }

    public mutating func writeWire(_ handle: FileHandleID) {
        self.writeWire(handle.rawValue)
    }

    public mutating func readWireTimestamp(field: StaticString) throws -> Timestamp {
        let seconds: Int64 = try self.readWire(field: field)
        let nanoseconds: UInt32 = try self.readWire(field: field)
        guard nanoseconds < 1_000_000_000 else {
            throw WireError(.invalidValue, "field '\(field)' has \(nanoseconds) nanoseconds")
        }
        return Timestamp(seconds: seconds, nanoseconds: nanoseconds)
    }

    public mutating func writeWire(_ time: Timestamp) {
        self.writeWire(time.seconds)
        self.writeWire(time.nanoseconds)
    }

    /// Checks that a message consumed its whole payload.
    public func expectFullyConsumed(_ message: @autoclosure () -> String) throws {
        guard self.readableBytes == 0 else {
            throw WireError(.trailingBytes, "\(self.readableBytes) bytes left after \(message())")
        }
    }
}

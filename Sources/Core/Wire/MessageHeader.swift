import NIOCore

/// The fixed 24-byte header that starts every frame, little-endian:
///
/// ```
/// offset size field
///      0    4 magic            "PHFS" (ProtocolVersion.magic)
///      4    1 version          protocol version of this frame
///      5    1 flags            Flags (reply, notice)
///      6    2 opcode           Opcode.rawValue
///      8    8 transaction      TransactionID (0 for notices)
///     16    4 status           0, or a Linux errno in a reply
///     20    4 payloadLength    bytes that follow the header
/// ```
public struct MessageHeader: Hashable, Sendable {
    public static let size = 24

    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The frame answers the request with the same transaction id.
        public static let reply = Flags(rawValue: 1 << 0)
        /// The frame is a server-to-client notice (invalidate, lock granted): no reply expected.
        public static let notice = Flags(rawValue: 1 << 1)
        static let known: Flags = [.reply, .notice]
    }

    public var version: UInt8
    public var flags: Flags
    public var opcode: Opcode
    public var transaction: TransactionID
    /// 0 on success; a Linux errno for a failed request (then the payload is empty).
    public var status: UInt32
    public var payloadLength: UInt32

    public init(
        version: UInt8 = UInt8(ProtocolVersion.current),
        flags: Flags = [],
        opcode: Opcode,
        transaction: TransactionID,
        status: UInt32 = 0,
        payloadLength: UInt32 = 0
    ) {
        self.version = version
        self.flags = flags
        self.opcode = opcode
        self.transaction = transaction
        self.status = status
        self.payloadLength = payloadLength
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(ProtocolVersion.magic, endianness: .little)
        buffer.writeInteger(self.version)
        buffer.writeInteger(self.flags.rawValue)
        buffer.writeInteger(self.opcode.rawValue, endianness: .little)
        buffer.writeInteger(self.transaction.rawValue, endianness: .little)
        buffer.writeInteger(self.status, endianness: .little)
        buffer.writeInteger(self.payloadLength, endianness: .little)
    }

    /// Decodes a header, rejecting a bad magic, an unsupported version, unknown flags and an
    /// unknown opcode. The caller checks `payloadLength` against its cap.
    public init(from buffer: inout ByteBuffer) throws {
        let magic: UInt32 = try buffer.readWire(field: "magic")
        guard magic == ProtocolVersion.magic else {
            throw WireError(.badMagic, "frame starts with 0x\(String(magic, radix: 16)), not PHFS")
        }
        self.version = try buffer.readWire(field: "version")
        guard UInt16(self.version) >= ProtocolVersion.oldestSupported,
            UInt16(self.version) <= ProtocolVersion.current
        else {
            throw WireError(.unsupportedVersion, "frame version \(self.version) is not supported")
        }
        let flags = Flags(rawValue: try buffer.readWire(field: "flags"))
        guard Flags.known.isSuperset(of: flags) else {
            throw WireError(.invalidValue, "unknown header flags 0x\(String(flags.rawValue, radix: 16))")
        }
        self.flags = flags
        let rawOpcode: UInt16 = try buffer.readWire(field: "opcode")
        guard let opcode = Opcode(rawValue: rawOpcode) else {
            throw WireError(.unknownOpcode, "opcode \(rawOpcode) is unknown")
        }
        self.opcode = opcode
        self.transaction = TransactionID(try buffer.readWire(field: "transaction"))
        self.status = try buffer.readWire(field: "status")
        self.payloadLength = try buffer.readWire(field: "payloadLength")
    }
}

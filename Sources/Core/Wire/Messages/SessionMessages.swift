import NIOCore

/// HELLO, the first request on every connection: version and capability negotiation.
///
/// The client offers the range of versions it speaks and the transaction size it wants; the
/// server answers with the version chosen, its capabilities, the maximum transaction size (at
/// least 1 MiB) and the handle of the export root. Any other request before HELLO closes the
/// connection.
public struct HelloRequest: WireRequest {
    public typealias Response = HelloResponse
    public static let opcode = Opcode.hello

    public var oldestVersion: UInt16
    public var newestVersion: UInt16
    public var capabilities: ProtocolVersion.Capabilities
    public var maximumTransaction: UInt32
    /// Free-form: host name and mount point, for logs and the lock inspector.
    public var clientName: [UInt8]

    public init(
        oldestVersion: UInt16 = ProtocolVersion.oldestSupported,
        newestVersion: UInt16 = ProtocolVersion.current,
        capabilities: ProtocolVersion.Capabilities = [],
        maximumTransaction: UInt32 = ProtocolVersion.minimumTransactionSize,
        clientName: String
    ) {
        self.oldestVersion = oldestVersion
        self.newestVersion = newestVersion
        self.capabilities = capabilities
        self.maximumTransaction = maximumTransaction
        self.clientName = Array(clientName.utf8.prefix(256))
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.oldestVersion)
        buffer.writeWire(self.newestVersion)
        buffer.writeWire(self.capabilities.rawValue)
        buffer.writeWire(self.maximumTransaction)
        buffer.writeWireBytes(self.clientName)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.oldestVersion = try buffer.readWire(field: "oldestVersion")
        self.newestVersion = try buffer.readWire(field: "newestVersion")
        self.capabilities = .init(rawValue: try buffer.readWire(field: "capabilities"))
        self.maximumTransaction = try buffer.readWire(field: "maximumTransaction")
        self.clientName = try buffer.readWireBytes(maximum: 256, field: "clientName")
    }
}

public struct HelloResponse: WireMessage {
    public var version: UInt16
    public var capabilities: ProtocolVersion.Capabilities
    public var maximumTransaction: UInt32
    public var session: SessionID
    public var root: Entry

    public init(
        version: UInt16, capabilities: ProtocolVersion.Capabilities, maximumTransaction: UInt32,
        session: SessionID, root: Entry
    ) {
        self.version = version
        self.capabilities = capabilities
        self.maximumTransaction = maximumTransaction
        self.session = session
        self.root = root
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.version)
        buffer.writeWire(self.capabilities.rawValue)
        buffer.writeWire(self.maximumTransaction)
        buffer.writeWire(self.session.rawValue)
        self.root.encode(into: &buffer)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.version = try buffer.readWire(field: "version")
        self.capabilities = .init(rawValue: try buffer.readWire(field: "capabilities"))
        self.maximumTransaction = try buffer.readWire(field: "maximumTransaction")
        self.session = SessionID(try buffer.readWire(field: "session"))
        self.root = try Entry(from: &buffer)
    }
}

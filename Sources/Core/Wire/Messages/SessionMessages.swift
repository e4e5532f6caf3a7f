import NIOCore

/// HELLO, the first request on every connection: version and capability negotiation.
///
/// The client offers the range of versions it speaks and the transaction size it wants; the
/// server answers with the version chosen, its capabilities, the maximum transaction size (at
/// least 1 MiB) and the handle of the export root. Any other request before HELLO closes the
/// connection.
///
/// A client that reconnects names its previous session in `resumeSession`: if the server still
/// holds that session (its open files, locks and reply cache, kept for the lock lease after a
/// connection drops) it re-attaches it to this connection and says so in `resumed`; otherwise
/// (a restarted server, or the lease ran out) it starts a new session. 0 on the wire means no
/// session to resume.
public struct HelloRequest: WireRequest {
    public typealias Response = HelloResponse
    public static let opcode = Opcode.hello

    public var oldestVersion: UInt16
    public var newestVersion: UInt16
    public var capabilities: ProtocolVersion.Capabilities
    public var maximumTransaction: UInt32
    /// Free-form: host name and mount point, for logs and the lock inspector.
    public var clientName: [UInt8]
    /// The session this client had before its connection dropped, to re-attach; nil for none.
    public var resumeSession: SessionID?
    /// The secret the server gave the session named in `resumeSession` (on the wire only when
    /// `capabilities` has `sessionSecret`; empty when not resuming).
    public var resumeSecret: [UInt8] = []

    public init(
        oldestVersion: UInt16 = ProtocolVersion.oldestSupported,
        newestVersion: UInt16 = ProtocolVersion.current,
        capabilities: ProtocolVersion.Capabilities = [],
        maximumTransaction: UInt32 = ProtocolVersion.minimumTransactionSize,
        clientName: String,
        resumeSession: SessionID? = nil
    ) {
        self.resumeSession = resumeSession
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
        buffer.writeWire(self.resumeSession?.rawValue ?? 0)
        if self.capabilities.contains(.sessionSecret) { buffer.writeWireBytes(self.resumeSecret) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.oldestVersion = try buffer.readWire(field: "oldestVersion")
        self.newestVersion = try buffer.readWire(field: "newestVersion")
        self.capabilities = .init(rawValue: try buffer.readWire(field: "capabilities"))
        self.maximumTransaction = try buffer.readWire(field: "maximumTransaction")
        self.clientName = try buffer.readWireBytes(maximum: 256, field: "clientName")
        let resume: UInt64 = try buffer.readWire(field: "resumeSession")
        self.resumeSession = resume == 0 ? nil : SessionID(resume)
        if self.capabilities.contains(.sessionSecret) {
            self.resumeSecret = try buffer.readWireBytes(maximum: HelloResponse.maximumSecret, field: "resumeSecret")
        }
    }
}

public struct HelloResponse: WireMessage {
    public var version: UInt16
    public var capabilities: ProtocolVersion.Capabilities
    public var maximumTransaction: UInt32
    public var session: SessionID
    public var root: Entry
    /// The session named in `HelloRequest.resumeSession` was re-attached (same `session`): its
    /// open files, locks and reply cache carry on. False: a new session; the client reopens its
    /// files and reclaims its locks.
    public var resumed: Bool
    /// The session's secret, which a resuming HELLO must present; never shown or logged. On the
    /// wire only when `capabilities` has `sessionSecret` (the client asked for it).
    public var sessionSecret: [UInt8] = []
    public static let maximumSecret = 64

    public init(
        version: UInt16, capabilities: ProtocolVersion.Capabilities, maximumTransaction: UInt32,
        session: SessionID, root: Entry, resumed: Bool = false
    ) {
        self.resumed = resumed
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
        buffer.writeWire(self.resumed)
        if self.capabilities.contains(.sessionSecret) { buffer.writeWireBytes(self.sessionSecret) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.version = try buffer.readWire(field: "version")
        self.capabilities = .init(rawValue: try buffer.readWire(field: "capabilities"))
        self.maximumTransaction = try buffer.readWire(field: "maximumTransaction")
        self.session = SessionID(try buffer.readWire(field: "session"))
        self.root = try Entry(from: &buffer)
        self.resumed = try buffer.readWireBool(field: "resumed")
        if self.capabilities.contains(.sessionSecret) {
            self.sessionSecret = try buffer.readWireBytes(maximum: Self.maximumSecret, field: "sessionSecret")
        }
    }
}

import NIOCore

/// LOCK_TABLE: the server's live lock table, for `pohmelfs locks` (an administrative request).
public struct LockTableRequest: WireRequest {
    public typealias Response = LockTableResponse
    public static let opcode = Opcode.lockTable
    /// Only locks on paths starting with this prefix (relative to the export); empty for all.
    public var pathPrefix: [UInt8]

    public init(pathPrefix: [UInt8] = []) { self.pathPrefix = pathPrefix }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWireBytes(self.pathPrefix) }
    public init(from buffer: inout ByteBuffer) throws {
        self.pathPrefix = try buffer.readWireBytes(maximum: 4096, field: "pathPrefix")
    }
}

/// One held or waiting lock, as the inspector shows it.
public struct LockTableEntry: Hashable, Sendable, WireMessage {
    public enum Mode: UInt8, Sendable {
        case shared = 0
        case exclusive = 1
    }
    public enum Kind: UInt8, Sendable {
        case transaction = 0
        case posix = 1
        case ofd = 2
        case flock = 3
    }

    /// Path of the file relative to the export root (best effort: the name it had when asked).
    public var path: [UInt8]
    public var range: WireLockRange
    public var mode: Mode
    public var kind: Kind
    public var session: SessionID
    /// The client's name (host and mountpoint) and address.
    public var client: [UInt8]
    public var peer: [UInt8]
    public var owner: LockOwner
    public var pid: UInt32
    public var waiting: Bool
    /// For a waiting lock: the session and pid of the first holder it waits behind (0 if none).
    public var blockedBySession: SessionID
    public var blockedByPid: UInt32
    /// How long it has been held or waiting.
    public var ageMilliseconds: UInt64

    public init(
        path: [UInt8], range: WireLockRange, mode: Mode, kind: Kind, session: SessionID, client: [UInt8],
        peer: [UInt8], owner: LockOwner, pid: UInt32, waiting: Bool, blockedBySession: SessionID,
        blockedByPid: UInt32, ageMilliseconds: UInt64
    ) {
        self.path = path
        self.range = range
        self.mode = mode
        self.kind = kind
        self.session = session
        self.client = client
        self.peer = peer
        self.owner = owner
        self.pid = pid
        self.waiting = waiting
        self.blockedBySession = blockedBySession
        self.blockedByPid = blockedByPid
        self.ageMilliseconds = ageMilliseconds
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWireBytes(self.path)
        buffer.writeWire(self.range)
        buffer.writeWire(self.mode.rawValue)
        buffer.writeWire(self.kind.rawValue)
        buffer.writeWire(self.session.rawValue)
        buffer.writeWireBytes(self.client)
        buffer.writeWireBytes(self.peer)
        buffer.writeWire(self.owner.rawValue)
        buffer.writeWire(self.pid)
        buffer.writeWire(self.waiting)
        buffer.writeWire(self.blockedBySession.rawValue)
        buffer.writeWire(self.blockedByPid)
        buffer.writeWire(self.ageMilliseconds)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.path = try buffer.readWireBytes(maximum: 4096, field: "path")
        self.range = try buffer.readWireLockRange(field: "range")
        self.mode = try buffer.readWireEnum(Mode.self, field: "mode")
        self.kind = try buffer.readWireEnum(Kind.self, field: "kind")
        self.session = SessionID(try buffer.readWire(field: "session"))
        self.client = try buffer.readWireBytes(maximum: 512, field: "client")
        self.peer = try buffer.readWireBytes(maximum: 256, field: "peer")
        self.owner = LockOwner(try buffer.readWire(field: "owner"))
        self.pid = try buffer.readWire(field: "pid")
        self.waiting = try buffer.readWireBool(field: "waiting")
        self.blockedBySession = SessionID(try buffer.readWire(field: "blockedBySession"))
        self.blockedByPid = try buffer.readWire(field: "blockedByPid")
        self.ageMilliseconds = try buffer.readWire(field: "ageMilliseconds")
    }
}

public struct LockTableResponse: WireMessage {
    /// Most entries one reply carries; the inspector says when a table was cut.
    public static let maximumEntries = 10_000
    public var entries: [LockTableEntry]
    public var truncated: Bool

    public init(entries: [LockTableEntry], truncated: Bool) {
        self.entries = entries
        self.truncated = truncated
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(UInt32(self.entries.count))
        for entry in self.entries { entry.encode(into: &buffer) }
        buffer.writeWire(self.truncated)
    }
    public init(from buffer: inout ByteBuffer) throws {
        let count: UInt32 = try buffer.readWire(field: "count")
        guard count <= LockTableResponse.maximumEntries else {
            throw WireError(.invalidValue, "lock table has \(count) entries")
        }
        self.entries = try (0..<count).map { _ in try LockTableEntry(from: &buffer) }
        self.truncated = try buffer.readWireBool(field: "truncated")
    }
}

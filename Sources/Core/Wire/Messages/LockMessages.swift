import NIOCore

/// The type of a lock request, as `fcntl(2)` names them.
public enum FileLockType: UInt8, Sendable, CaseIterable {
    /// F_RDLCK: shared.
    case read = 0
    /// F_WRLCK: exclusive.
    case write = 1
    /// F_UNLCK.
    case unlock = 2
}

/// Which lock family a request belongs to. OFD locks reach a FUSE filesystem as POSIX locks
/// whose owner is the open file description, so they travel as `.posix`.
public enum FileLockFlavor: UInt8, Sendable, CaseIterable {
    case posix = 0
    /// `flock(2)`: whole-file, conflicts only with other flock locks.
    case flock = 1
}

/// A byte range as `struct flock` describes it once resolved: `start...end`, `end` =
/// `UInt64.max` meaning "to end of file".
public struct WireLockRange: Hashable, Sendable {
    public var start: UInt64
    public var end: UInt64
    public init(start: UInt64, end: UInt64) {
        self.start = start
        self.end = end
    }
    public static let wholeFile = WireLockRange(start: 0, end: .max)
}

extension ByteBuffer {
    mutating func readWireLockRange(field: StaticString) throws -> WireLockRange {
        let start: UInt64 = try self.readWire(field: field)
        let end: UInt64 = try self.readWire(field: field)
        guard start <= end else { throw WireError(.invalidValue, "lock range \(start)...\(end) is reversed") }
        return WireLockRange(start: start, end: end)
    }

    mutating func writeWire(_ range: WireLockRange) {
        self.writeWire(range.start)
        self.writeWire(range.end)
    }

    mutating func readWireEnum<E: RawRepresentable>(_ type: E.Type, field: StaticString) throws -> E
    where E.RawValue == UInt8 {
        let raw: UInt8 = try self.readWire(field: field)
        guard let value = E(rawValue: raw) else { throw WireError(.invalidValue, "field '\(field)' is \(raw)") }
        return value
    }
}

/// GETLK (`F_GETLK`, `F_OFD_GETLK`): the first lock of another owner that would conflict with
/// the described one, if any.
public struct GetlkRequest: WireRequest {
    public typealias Response = GetlkResponse
    public static let opcode = Opcode.getlk
    public var file: FileHandleID
    public var owner: LockOwner
    public var type: FileLockType
    public var range: WireLockRange
    public var pid: UInt32

    public init(file: FileHandleID, owner: LockOwner, type: FileLockType, range: WireLockRange, pid: UInt32) {
        self.file = file
        self.owner = owner
        self.type = type
        self.range = range
        self.pid = pid
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.owner.rawValue)
        buffer.writeWire(self.type.rawValue)
        buffer.writeWire(self.range)
        buffer.writeWire(self.pid)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.owner = LockOwner(try buffer.readWire(field: "owner"))
        self.type = try buffer.readWireEnum(FileLockType.self, field: "type")
        self.range = try buffer.readWireLockRange(field: "range")
        self.pid = try buffer.readWire(field: "pid")
    }
}

/// The conflicting lock (`type` `.unlock` when there is none). `pid` is the holder's pid on its
/// own client machine, 0 when unknown.
public struct GetlkResponse: WireMessage {
    public var type: FileLockType
    public var range: WireLockRange
    public var pid: UInt32

    public init(type: FileLockType, range: WireLockRange, pid: UInt32) {
        self.type = type
        self.range = range
        self.pid = pid
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.type.rawValue)
        buffer.writeWire(self.range)
        buffer.writeWire(self.pid)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.type = try buffer.readWireEnum(FileLockType.self, field: "type")
        self.range = try buffer.readWireLockRange(field: "range")
        self.pid = try buffer.readWire(field: "pid")
    }
}

/// SETLK (`F_SETLK`, `F_SETLKW`, `flock(2)`): take, change or drop a lock. Without `wait` a
/// conflict is answered EAGAIN at once. With `wait` the reply is sent only when the lock is
/// granted — EDEADLK if waiting would deadlock, EINTR if the client cancels (CANCEL) — so no
/// thread anywhere waits for it.
public struct SetlkRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.setlk
    public var file: FileHandleID
    public var owner: LockOwner
    public var flavor: FileLockFlavor
    public var type: FileLockType
    public var range: WireLockRange
    public var pid: UInt32
    public var wait: Bool
    /// The client held this lock before the server restarted and takes it back: granted during
    /// the server's grace period, when other lock requests wait. Travels as bit 1 of the byte
    /// whose bit 0 is `wait`.
    public var reclaim: Bool

    public init(
        file: FileHandleID, owner: LockOwner, flavor: FileLockFlavor, type: FileLockType, range: WireLockRange,
        pid: UInt32, wait: Bool, reclaim: Bool = false
    ) {
        self.reclaim = reclaim
        self.file = file
        self.owner = owner
        self.flavor = flavor
        self.type = type
        self.range = range
        self.pid = pid
        self.wait = wait
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.owner.rawValue)
        buffer.writeWire(self.flavor.rawValue)
        buffer.writeWire(self.type.rawValue)
        buffer.writeWire(self.range)
        buffer.writeWire(self.pid)
        buffer.writeWire(UInt8(self.wait ? 1 : 0) | UInt8(self.reclaim ? 2 : 0))
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.owner = LockOwner(try buffer.readWire(field: "owner"))
        self.flavor = try buffer.readWireEnum(FileLockFlavor.self, field: "flavor")
        self.type = try buffer.readWireEnum(FileLockType.self, field: "type")
        self.range = try buffer.readWireLockRange(field: "range")
        self.pid = try buffer.readWire(field: "pid")
        let flags: UInt8 = try buffer.readWire(field: "wait")
        guard flags <= 3 else { throw WireError(.invalidValue, "field 'wait' is \(flags)") }
        self.wait = flags & 1 != 0
        self.reclaim = flags & 2 != 0
    }
}

/// CANCEL: give up waiting for the blocked SETLK `transaction` (the process waiting for it was
/// interrupted). The blocked request is answered EINTR; CANCEL itself is answered once that is
/// done, or at once if the request had already been answered.
public struct CancelRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.cancel
    public var transaction: TransactionID

    public init(transaction: TransactionID) { self.transaction = transaction }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.transaction.rawValue) }
    public init(from buffer: inout ByteBuffer) throws {
        self.transaction = TransactionID(try buffer.readWire(field: "transaction"))
    }
}

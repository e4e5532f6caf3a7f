import NIOCore

/// Who is asking: the identity of the process behind a request. Every request frame's payload
/// starts with one, and the server performs the operation with exactly these credentials.
public struct Caller: Hashable, Sendable, WireMessage {
    /// NGROUPS_MAX is 65536 on Linux; a request carries at most this many supplementary groups.
    public static let maximumGroups = 256

    public var uid: UInt32
    public var gid: UInt32
    /// The process id on the client machine: for logs and the lock inspector only.
    public var pid: UInt32
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, pid: UInt32 = 0, groups: [UInt32] = []) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.groups = groups
    }

    public static let root = Caller(uid: 0, gid: 0)

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.uid)
        buffer.writeWire(self.gid)
        buffer.writeWire(self.pid)
        buffer.writeWire(UInt16(self.groups.count))
        for group in self.groups { buffer.writeWire(group) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.uid = try buffer.readWire(field: "caller.uid")
        self.gid = try buffer.readWire(field: "caller.gid")
        self.pid = try buffer.readWire(field: "caller.pid")
        let count: UInt16 = try buffer.readWire(field: "caller.groups.count")
        guard count <= Caller.maximumGroups else {
            throw WireError(.invalidValue, "caller has \(count) groups, more than \(Caller.maximumGroups)")
        }
        self.groups = []
        self.groups.reserveCapacity(Int(count))
        for _ in 0..<count { self.groups.append(try buffer.readWire(field: "caller.groups")) }
    }
}

import NIOCore

/// One name in a directory: what a name lease covers and a LEASE_BREAK names.
public struct LeasedName: Hashable, Sendable {
    public var directory: ObjectHandle
    public var name: FileName

    public init(directory: ObjectHandle, name: FileName) {
        self.directory = directory
        self.name = name
    }
}

/// LEASE_BREAK (server to client, capability `leases`): another client changed these names and
/// objects. The client makes its kernel forget them (`fuse_lowlevel_notify_inval_entry` for each
/// name, whether it cached it as present or absent; `fuse_lowlevel_notify_inval_inode`, attributes
/// only, for each object), marks every reply to a request it sent before this notice as
/// lease-less, and only then answers INVALIDATE_DONE naming the notice id (the header's
/// transaction field). Id 0: nothing waits for the answer (a grant refused or crossed by a
/// change; the client only learns that replies in flight carry no lease).
///
/// ```
/// u32 count, then count × (handle directory, name)
/// u32 count, then count × handle object
/// ```
public struct LeaseBreakNotice: WireNotice {
    public static let opcode = Opcode.leaseBreak
    /// The most names or objects one notice carries.
    public static let maximumItems = 64

    public var names: [LeasedName]
    public var objects: [ObjectHandle]

    public init(names: [LeasedName] = [], objects: [ObjectHandle] = []) {
        self.names = names
        self.objects = objects
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(UInt32(self.names.count))
        for name in self.names {
            buffer.writeWire(name.directory)
            buffer.writeWire(name.name)
        }
        buffer.writeWire(UInt32(self.objects.count))
        for object in self.objects { buffer.writeWire(object) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        let nameCount: UInt32 = try buffer.readWire(field: "names.count")
        guard nameCount <= Self.maximumItems else { throw WireError(.invalidValue, "LEASE_BREAK names \(nameCount)") }
        self.names = try (0..<nameCount).map { _ in
            LeasedName(
                directory: try buffer.readWireHandle(field: "names.directory"),
                name: try buffer.readWireName(field: "names.name"))
        }
        let objectCount: UInt32 = try buffer.readWire(field: "objects.count")
        guard objectCount <= Self.maximumItems else {
            throw WireError(.invalidValue, "LEASE_BREAK objects \(objectCount)")
        }
        self.objects = try (0..<objectCount).map { _ in try buffer.readWireHandle(field: "objects.handle") }
    }
}

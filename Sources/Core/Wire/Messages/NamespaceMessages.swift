import NIOCore

/// LOOKUP: find `name` in the directory `parent`. Replies with the child's entry or ENOENT.
public struct LookupRequest: WireRequest {
    public typealias Response = Entry
    public static let opcode = Opcode.lookup
    public var parent: ObjectHandle
    public var name: FileName

    public init(parent: ObjectHandle, name: FileName) {
        self.parent = parent
        self.name = name
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
    }
}

/// MKDIR: create directory `name` in `parent` with `mode` (umask already applied by the client
/// kernel), owned by the caller.
public struct MkdirRequest: WireRequest {
    public typealias Response = Entry
    public static let opcode = Opcode.mkdir
    public var parent: ObjectHandle
    public var name: FileName
    public var mode: UInt32

    public init(parent: ObjectHandle, name: FileName, mode: UInt32) {
        self.parent = parent
        self.name = name
        self.mode = mode
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
        buffer.writeWire(self.mode)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
        self.mode = try buffer.readWire(field: "mode")
    }
}

/// MKNOD: create a regular file, fifo, socket, or character or block device (type in `mode`).
public struct MknodRequest: WireRequest {
    public typealias Response = Entry
    public static let opcode = Opcode.mknod
    public var parent: ObjectHandle
    public var name: FileName
    public var mode: UInt32
    public var rdev: UInt64

    public init(parent: ObjectHandle, name: FileName, mode: UInt32, rdev: UInt64) {
        self.parent = parent
        self.name = name
        self.mode = mode
        self.rdev = rdev
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
        buffer.writeWire(self.mode)
        buffer.writeWire(self.rdev)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
        self.mode = try buffer.readWire(field: "mode")
        self.rdev = try buffer.readWire(field: "rdev")
    }
}

/// SYMLINK: create symbolic link `name` in `parent` pointing at `target` (stored verbatim; the
/// server never follows it).
public struct SymlinkRequest: WireRequest {
    public typealias Response = Entry
    public static let opcode = Opcode.symlink
    public var parent: ObjectHandle
    public var name: FileName
    public var target: [UInt8]

    public init(parent: ObjectHandle, name: FileName, target: [UInt8]) {
        self.parent = parent
        self.name = name
        self.target = target
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
        buffer.writeWireBytes(self.target)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
        self.target = try buffer.readWireBytes(maximum: ByteBuffer.wireMaximumName, field: "target")
    }
}

/// LINK: give the object `target` the additional name `name` in `newParent`.
public struct LinkRequest: WireRequest {
    public typealias Response = Entry
    public static let opcode = Opcode.link
    public var target: ObjectHandle
    public var newParent: ObjectHandle
    public var name: FileName

    public init(target: ObjectHandle, newParent: ObjectHandle, name: FileName) {
        self.target = target
        self.newParent = newParent
        self.name = name
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.target)
        buffer.writeWire(self.newParent)
        buffer.writeWire(self.name)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.target = try buffer.readWireHandle(field: "target")
        self.newParent = try buffer.readWireHandle(field: "newParent")
        self.name = try buffer.readWireName(field: "name")
    }
}

/// UNLINK: remove the non-directory `name` from `parent`.
public struct UnlinkRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.unlink
    public var parent: ObjectHandle
    public var name: FileName

    public init(parent: ObjectHandle, name: FileName) {
        self.parent = parent
        self.name = name
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
    }
}

/// RMDIR: remove the empty directory `name` from `parent`.
public struct RmdirRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.rmdir
    public var parent: ObjectHandle
    public var name: FileName

    public init(parent: ObjectHandle, name: FileName) {
        self.parent = parent
        self.name = name
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
    }
}

/// RENAME: `renameat2(2)` semantics, including `RENAME_NOREPLACE` and `RENAME_EXCHANGE`.
public struct RenameRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.rename

    public struct Flags: OptionSet, Hashable, Sendable {
        public var rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let noReplace = Flags(rawValue: 1)
        public static let exchange = Flags(rawValue: 2)
        /// RENAME_WHITEOUT: leave a whiteout (a 0:0 character device) where the source was.
        public static let whiteout = Flags(rawValue: 4)
        public static let known: Flags = [.noReplace, .exchange, .whiteout]
    }

    public var oldParent: ObjectHandle
    public var oldName: FileName
    public var newParent: ObjectHandle
    public var newName: FileName
    public var flags: Flags

    public init(oldParent: ObjectHandle, oldName: FileName, newParent: ObjectHandle, newName: FileName, flags: Flags) {
        self.oldParent = oldParent
        self.oldName = oldName
        self.newParent = newParent
        self.newName = newName
        self.flags = flags
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.oldParent)
        buffer.writeWire(self.oldName)
        buffer.writeWire(self.newParent)
        buffer.writeWire(self.newName)
        buffer.writeWire(self.flags.rawValue)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.oldParent = try buffer.readWireHandle(field: "oldParent")
        self.oldName = try buffer.readWireName(field: "oldName")
        self.newParent = try buffer.readWireHandle(field: "newParent")
        self.newName = try buffer.readWireName(field: "newName")
        self.flags = Flags(rawValue: try buffer.readWire(field: "flags"))
    }
}

/// READLINK: the target of a symbolic link, byte for byte.
public struct ReadlinkRequest: WireRequest {
    public typealias Response = ReadlinkResponse
    public static let opcode = Opcode.readlink
    public var handle: ObjectHandle

    public init(handle: ObjectHandle) { self.handle = handle }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.handle) }
    public init(from buffer: inout ByteBuffer) throws { self.handle = try buffer.readWireHandle(field: "handle") }
}

public struct ReadlinkResponse: WireMessage {
    public var target: [UInt8]

    public init(target: [UInt8]) { self.target = target }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWireBytes(self.target) }
    public init(from buffer: inout ByteBuffer) throws {
        self.target = try buffer.readWireBytes(maximum: ByteBuffer.wireMaximumName, field: "target")
    }
}

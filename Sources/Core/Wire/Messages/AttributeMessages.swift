import NIOCore

/// GETATTR: the attributes of an object. With an open file handle the server stats the open
/// file (which works after the name is gone).
public struct GetattrRequest: WireRequest {
    public typealias Response = FileAttributes
    public static let opcode = Opcode.getattr
    public var handle: ObjectHandle

    public init(handle: ObjectHandle) { self.handle = handle }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.handle) }
    public init(from buffer: inout ByteBuffer) throws { self.handle = try buffer.readWireHandle(field: "handle") }
}

/// How SETATTR changes a timestamp.
public enum TimeUpdate: Hashable, Sendable {
    /// The server's current time (`UTIME_NOW`).
    case now
    case set(Timestamp)
}

/// SETATTR: change any of mode, owner, group, size and the two timestamps; replies with the
/// attributes afterwards. `file` names an open file handle when the kernel has one (truncation
/// of an open file must not need write permission on the name).
public struct SetattrRequest: WireRequest {
    public typealias Response = FileAttributes
    public static let opcode = Opcode.setattr

    public var handle: ObjectHandle
    public var file: FileHandleID?
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: UInt64?
    public var accessTime: TimeUpdate?
    public var modificationTime: TimeUpdate?

    public init(
        handle: ObjectHandle, file: FileHandleID? = nil, mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil,
        size: UInt64? = nil, accessTime: TimeUpdate? = nil, modificationTime: TimeUpdate? = nil
    ) {
        self.handle = handle
        self.file = file
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.accessTime = accessTime
        self.modificationTime = modificationTime
    }

    /// Which optional fields are present, in wire order.
    private struct Fields: OptionSet {
        var rawValue: UInt32
        static let file = Fields(rawValue: 1 << 0)
        static let mode = Fields(rawValue: 1 << 1)
        static let uid = Fields(rawValue: 1 << 2)
        static let gid = Fields(rawValue: 1 << 3)
        static let size = Fields(rawValue: 1 << 4)
        static let atime = Fields(rawValue: 1 << 5)
        static let atimeNow = Fields(rawValue: 1 << 6)
        static let mtime = Fields(rawValue: 1 << 7)
        static let mtimeNow = Fields(rawValue: 1 << 8)
        static let known = Fields(rawValue: (1 << 9) - 1)
    }

    public func encode(into buffer: inout ByteBuffer) {
        var fields: Fields = []
        if self.file != nil { fields.insert(.file) }
        if self.mode != nil { fields.insert(.mode) }
        if self.uid != nil { fields.insert(.uid) }
        if self.gid != nil { fields.insert(.gid) }
        if self.size != nil { fields.insert(.size) }
        switch self.accessTime {
        case .now: fields.insert(.atimeNow)
        case .set: fields.insert(.atime)
        case nil: break
        }
        switch self.modificationTime {
        case .now: fields.insert(.mtimeNow)
        case .set: fields.insert(.mtime)
        case nil: break
        }
        buffer.writeWire(self.handle)
        buffer.writeWire(fields.rawValue)
        if let file = self.file { buffer.writeWire(file) }
        if let mode = self.mode { buffer.writeWire(mode) }
        if let uid = self.uid { buffer.writeWire(uid) }
        if let gid = self.gid { buffer.writeWire(gid) }
        if let size = self.size { buffer.writeWire(size) }
        if case .set(let time) = self.accessTime { buffer.writeWire(time) }
        if case .set(let time) = self.modificationTime { buffer.writeWire(time) }
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        let fields = Fields(rawValue: try buffer.readWire(field: "fields"))
        guard Fields.known.isSuperset(of: fields), !fields.isSuperset(of: [.atime, .atimeNow]),
            !fields.isSuperset(of: [.mtime, .mtimeNow])
        else {
            throw WireError(.invalidValue, "setattr fields 0x\(String(fields.rawValue, radix: 16)) are invalid")
        }
        self.file = fields.contains(.file) ? try buffer.readWireFileHandle(field: "file") : nil
        self.mode = fields.contains(.mode) ? try buffer.readWire(field: "mode") : nil
        self.uid = fields.contains(.uid) ? try buffer.readWire(field: "uid") : nil
        self.gid = fields.contains(.gid) ? try buffer.readWire(field: "gid") : nil
        self.size = fields.contains(.size) ? try buffer.readWire(field: "size") : nil
        if fields.contains(.atimeNow) {
            self.accessTime = .now
        } else if fields.contains(.atime) {
            self.accessTime = .set(try buffer.readWireTimestamp(field: "atime"))
        } else {
            self.accessTime = nil
        }
        if fields.contains(.mtimeNow) {
            self.modificationTime = .now
        } else if fields.contains(.mtime) {
            self.modificationTime = .set(try buffer.readWireTimestamp(field: "mtime"))
        } else {
            self.modificationTime = nil
        }
    }
}

/// ACCESS: would the caller be granted `mask` (R_OK, W_OK, X_OK, or F_OK) on the object?
public struct AccessRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.access
    public var handle: ObjectHandle
    public var mask: UInt32

    public init(handle: ObjectHandle, mask: UInt32) {
        self.handle = handle
        self.mask = mask
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWire(self.mask)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.mask = try buffer.readWire(field: "mask")
    }
}

/// STATFS: the export's filesystem statistics (`statvfs`).
public struct StatfsRequest: WireRequest {
    public typealias Response = StatfsResponse
    public static let opcode = Opcode.statfs
    public var handle: ObjectHandle

    public init(handle: ObjectHandle) { self.handle = handle }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.handle) }
    public init(from buffer: inout ByteBuffer) throws { self.handle = try buffer.readWireHandle(field: "handle") }
}

public struct StatfsResponse: WireMessage {
    public var blockSize: UInt64
    public var fragmentSize: UInt64
    public var blocks: UInt64
    public var freeBlocks: UInt64
    public var availableBlocks: UInt64
    public var files: UInt64
    public var freeFiles: UInt64
    public var maximumNameLength: UInt64

    public init(
        blockSize: UInt64, fragmentSize: UInt64, blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64,
        files: UInt64, freeFiles: UInt64, maximumNameLength: UInt64
    ) {
        self.blockSize = blockSize
        self.fragmentSize = fragmentSize
        self.blocks = blocks
        self.freeBlocks = freeBlocks
        self.availableBlocks = availableBlocks
        self.files = files
        self.freeFiles = freeFiles
        self.maximumNameLength = maximumNameLength
    }

    public func encode(into buffer: inout ByteBuffer) {
        for value in [
            self.blockSize, self.fragmentSize, self.blocks, self.freeBlocks, self.availableBlocks, self.files,
            self.freeFiles, self.maximumNameLength,
        ] {
            buffer.writeWire(value)
        }
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.blockSize = try buffer.readWire(field: "bsize")
        self.fragmentSize = try buffer.readWire(field: "frsize")
        self.blocks = try buffer.readWire(field: "blocks")
        self.freeBlocks = try buffer.readWire(field: "bfree")
        self.availableBlocks = try buffer.readWire(field: "bavail")
        self.files = try buffer.readWire(field: "files")
        self.freeFiles = try buffer.readWire(field: "ffree")
        self.maximumNameLength = try buffer.readWire(field: "namemax")
    }
}

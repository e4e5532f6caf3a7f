import NIOCore

/// What `stat` tells about an object, as the server's backing filesystem reports it.
///
/// `inode` is the backing filesystem's inode number: stable across renames, shared by hard
/// links, and what `st_ino` shows on every client.
public struct FileAttributes: Hashable, Sendable, WireMessage {
    public var inode: UInt64
    public var size: UInt64
    public var blocks: UInt64
    public var accessTime: Timestamp
    public var modificationTime: Timestamp
    public var changeTime: Timestamp
    /// File type and permission bits (`st_mode`).
    public var mode: UInt32
    public var linkCount: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var rdev: UInt64
    public var blockSize: UInt32

    public init(
        inode: UInt64, size: UInt64, blocks: UInt64, accessTime: Timestamp, modificationTime: Timestamp,
        changeTime: Timestamp, mode: UInt32, linkCount: UInt32, uid: UInt32, gid: UInt32, rdev: UInt64,
        blockSize: UInt32
    ) {
        self.inode = inode
        self.size = size
        self.blocks = blocks
        self.accessTime = accessTime
        self.modificationTime = modificationTime
        self.changeTime = changeTime
        self.mode = mode
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.rdev = rdev
        self.blockSize = blockSize
    }

    /// File type bits (`S_IFMT`).
    public var fileType: UInt32 { self.mode & 0o170000 }
    public var isDirectory: Bool { self.fileType == 0o040000 }
    public var isRegularFile: Bool { self.fileType == 0o100000 }
    public var isSymbolicLink: Bool { self.fileType == 0o120000 }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.inode)
        buffer.writeWire(self.size)
        buffer.writeWire(self.blocks)
        buffer.writeWire(self.accessTime)
        buffer.writeWire(self.modificationTime)
        buffer.writeWire(self.changeTime)
        buffer.writeWire(self.mode)
        buffer.writeWire(self.linkCount)
        buffer.writeWire(self.uid)
        buffer.writeWire(self.gid)
        buffer.writeWire(self.rdev)
        buffer.writeWire(self.blockSize)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.inode = try buffer.readWire(field: "attr.inode")
        self.size = try buffer.readWire(field: "attr.size")
        self.blocks = try buffer.readWire(field: "attr.blocks")
        self.accessTime = try buffer.readWireTimestamp(field: "attr.atime")
        self.modificationTime = try buffer.readWireTimestamp(field: "attr.mtime")
        self.changeTime = try buffer.readWireTimestamp(field: "attr.ctime")
        self.mode = try buffer.readWire(field: "attr.mode")
        self.linkCount = try buffer.readWire(field: "attr.nlink")
        self.uid = try buffer.readWire(field: "attr.uid")
        self.gid = try buffer.readWire(field: "attr.gid")
        self.rdev = try buffer.readWire(field: "attr.rdev")
        self.blockSize = try buffer.readWire(field: "attr.blksize")
    }
}

/// An object found by name: its handle and its attributes.
public struct Entry: Hashable, Sendable, WireMessage {
    public var handle: ObjectHandle
    public var attributes: FileAttributes

    public init(handle: ObjectHandle, attributes: FileAttributes) {
        self.handle = handle
        self.attributes = attributes
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        self.attributes.encode(into: &buffer)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "entry.handle")
        self.attributes = try FileAttributes(from: &buffer)
    }
}

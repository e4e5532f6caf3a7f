import NIOCore

/// OPENDIR: open a directory for listing (needs read permission, checked as the caller).
public struct OpendirRequest: WireRequest {
    public typealias Response = OpenResponse
    public static let opcode = Opcode.opendir
    public var handle: ObjectHandle

    public init(handle: ObjectHandle) { self.handle = handle }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.handle) }
    public init(from buffer: inout ByteBuffer) throws { self.handle = try buffer.readWireHandle(field: "handle") }
}

/// READDIR: up to `maximumEntries` entries starting after `cookie` (0 = from the start). The
/// cookie of each entry resumes the listing after it, also from a later request. With `plus`
/// every entry except `.` and `..` carries its handle and attributes (readdirplus).
public struct ReaddirRequest: WireRequest {
    public typealias Response = ReaddirResponse
    public static let opcode = Opcode.readdir
    /// Largest batch one request may ask for.
    public static let maximumBatch: UInt32 = 4096
    public var directory: FileHandleID
    public var cookie: UInt64
    public var maximumEntries: UInt32
    public var plus: Bool

    public init(directory: FileHandleID, cookie: UInt64, maximumEntries: UInt32, plus: Bool) {
        self.directory = directory
        self.cookie = cookie
        self.maximumEntries = maximumEntries
        self.plus = plus
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.directory)
        buffer.writeWire(self.cookie)
        buffer.writeWire(self.maximumEntries)
        buffer.writeWire(self.plus)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.directory = try buffer.readWireFileHandle(field: "directory")
        self.cookie = try buffer.readWire(field: "cookie")
        self.maximumEntries = try buffer.readWire(field: "maximumEntries")
        self.plus = try buffer.readWireBool(field: "plus")
    }
}

/// One directory entry.
public struct DirectoryEntry: Hashable, Sendable, WireMessage {
    public var name: FileName
    /// Resumes the listing after this entry.
    public var cookie: UInt64
    public var inode: UInt64
    /// The `d_type` value (DT_REG, DT_DIR, ...).
    public var type: UInt8
    /// Handle and attributes, for readdirplus; nil for `.`, `..` and plain readdir.
    public var entry: Entry?

    public init(name: FileName, cookie: UInt64, inode: UInt64, type: UInt8, entry: Entry?) {
        self.name = name
        self.cookie = cookie
        self.inode = inode
        self.type = type
        self.entry = entry
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.name)
        buffer.writeWire(self.cookie)
        buffer.writeWire(self.inode)
        buffer.writeWire(self.type)
        buffer.writeWire(self.entry != nil)
        self.entry?.encode(into: &buffer)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.name = try buffer.readWireName(field: "dirent.name")
        self.cookie = try buffer.readWire(field: "dirent.cookie")
        self.inode = try buffer.readWire(field: "dirent.inode")
        self.type = try buffer.readWire(field: "dirent.type")
        self.entry = try buffer.readWireBool(field: "dirent.hasEntry") ? try Entry(from: &buffer) : nil
    }
}

public struct ReaddirResponse: WireMessage {
    public var entries: [DirectoryEntry]
    /// True when the listing has no entries after the last one returned.
    public var isEnd: Bool

    public init(entries: [DirectoryEntry], isEnd: Bool) {
        self.entries = entries
        self.isEnd = isEnd
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(UInt32(self.entries.count))
        for entry in self.entries { entry.encode(into: &buffer) }
        buffer.writeWire(self.isEnd)
    }

    /// Drops trailing entries until the encoded reply is at most `limit` bytes (keeping at least
    /// one entry); clears `isEnd` when it drops any. The client resumes from the cookie of the
    /// last entry kept, so nothing is lost.
    public mutating func truncate(toEncodedSize limit: Int) {
        var size = 4 + 1  // count and isEnd
        var scratch = ByteBuffer()
        for (index, entry) in self.entries.enumerated() {
            scratch.clear()
            entry.encode(into: &scratch)
            size += scratch.readableBytes
            if size > limit && index > 0 {
                self.entries.removeSubrange(index...)
                self.isEnd = false
                return
            }
        }
    }

    public init(from buffer: inout ByteBuffer) throws {
        let count: UInt32 = try buffer.readWire(field: "count")
        guard count <= ReaddirRequest.maximumBatch else {
            throw WireError(.invalidValue, "readdir reply has \(count) entries")
        }
        self.entries = []
        self.entries.reserveCapacity(Int(count))
        for _ in 0..<count { self.entries.append(try DirectoryEntry(from: &buffer)) }
        self.isEnd = try buffer.readWireBool(field: "isEnd")
    }
}

/// RELEASEDIR: close a directory opened by OPENDIR.
public struct ReleasedirRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.releasedir
    public var directory: FileHandleID

    public init(directory: FileHandleID) { self.directory = directory }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.directory) }
    public init(from buffer: inout ByteBuffer) throws {
        self.directory = try buffer.readWireFileHandle(field: "directory")
    }
}

/// OPENDIR_LIST (capability `openAndList`): OPENDIR of `handle` and its first READDIR, from cookie
/// 0, in one round trip (Messages). The kernel's first READDIR of the open is then answered by
/// the client.
public struct OpendirListRequest: WireRequest {
    public typealias Response = OpendirListResponse
    public static let opcode = Opcode.opendirList
    public var handle: ObjectHandle
    public var maximumEntries: UInt32
    public var plus: Bool

    public init(handle: ObjectHandle, maximumEntries: UInt32, plus: Bool) {
        self.handle = handle
        self.maximumEntries = maximumEntries
        self.plus = plus
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWire(self.maximumEntries)
        buffer.writeWire(self.plus)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.maximumEntries = try buffer.readWire(field: "maximumEntries")
        self.plus = try buffer.readWireBool(field: "plus")
    }
}

/// The directory opened (as OPENDIR's reply) and its first batch (as READDIR's).
public struct OpendirListResponse: WireMessage {
    public var file: FileHandleID
    public var listing: ReaddirResponse

    public init(file: FileHandleID, listing: ReaddirResponse) {
        self.file = file
        self.listing = listing
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        self.listing.encode(into: &buffer)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.listing = try ReaddirResponse(from: &buffer)
    }
}

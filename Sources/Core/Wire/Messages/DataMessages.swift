import NIOCore

/// OPEN: open a regular file for I/O with `open(2)` flags (access mode, O_APPEND, O_TRUNC,
/// O_SYNC, O_DSYNC, O_DIRECT, O_NOATIME; creation flags belong to CREATE). The permission check
/// happens here, as the caller, and the returned handle keeps working as an open file does.
///
/// `caching` tells the server the client keeps this file's pages in its cache: the server then
/// invalidates them before acknowledging any other client's change to the file.
public struct OpenRequest: WireRequest {
    public typealias Response = OpenResponse
    public static let opcode = Opcode.open
    /// A bit of `flags` that no `open(2)` flag uses: the client looked the file's name up for
    /// this very open just before (its kernel's path walk), so the object may be opened even if
    /// it has been removed or renamed over since. Without it, opening a removed object is ESTALE.
    public static let resolvedJustNow: UInt32 = 1 << 31
    /// A bit of `flags` (capability `firstRead`): the reply is to bring the file's first
    /// `firstReadSize` bytes (`OpenResponse.firstRead`).
    public static let wantsFirstRead: UInt32 = 1 << 29
    /// How much an OPEN with `wantsFirstRead` reads: the kernel's usual first read-ahead.
    public static let firstReadSize = 128 * 1024
    /// Linux `O_TRUNC` in `flags` (FUSE's atomic_o_trunc: the open truncates the file).
    public static let truncating: UInt32 = 0o1000
    public var handle: ObjectHandle
    public var flags: UInt32
    public var caching: Bool

    public init(handle: ObjectHandle, flags: UInt32, caching: Bool = false) {
        self.handle = handle
        self.flags = flags
        self.caching = caching
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.handle)
        buffer.writeWire(self.flags)
        buffer.writeWire(self.caching)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.handle = try buffer.readWireHandle(field: "handle")
        self.flags = try buffer.readWire(field: "flags")
        self.caching = try buffer.readWireBool(field: "caching")
    }
}

/// `cacheValid`: the client's pages of this file from earlier opens are still valid (the server
/// has tracked this client as a cacher of the file ever since and invalidated every change), so
/// the kernel may keep them.
public struct OpenResponse: WireMessage {
    /// What an OPEN with `OpenRequest.wantsFirstRead` brought: a trailing field, present only
    /// in the reply to such an OPEN.
    public enum FirstRead: Equatable, Sendable {
        /// The server did not read (the open truncates or writes only, another session holds the
        /// grant).
        case notRead
        /// The bytes from offset 0: `OpenRequest.firstReadSize` of them, fewer only at end of file.
        case bytes(ByteBuffer)
    }

    public var file: FileHandleID
    public var cacheValid: Bool
    public var firstRead: FirstRead?

    public init(file: FileHandleID, cacheValid: Bool = false, firstRead: FirstRead? = nil) {
        self.file = file
        self.cacheValid = cacheValid
        self.firstRead = firstRead
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.cacheValid)
        switch self.firstRead {
        case nil: break
        case .notRead: buffer.writeWire(false)
        case .bytes(let bytes):
            buffer.writeWire(true)
            buffer.writeWireSlice(bytes)
        }
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.cacheValid = try buffer.readWireBool(field: "cacheValid")
        guard buffer.readableBytes > 0 else { return }
        guard try buffer.readWireBool(field: "firstRead") else {
            self.firstRead = .notRead
            return
        }
        self.firstRead = .bytes(try buffer.readWireSlice(maximum: OpenRequest.firstReadSize, field: "firstRead"))
    }
}

/// CREATE: create (O_CREAT, honouring O_EXCL) and open a regular file in one step.
public struct CreateRequest: WireRequest {
    public typealias Response = CreateResponse
    public static let opcode = Opcode.create
    public var parent: ObjectHandle
    public var name: FileName
    public var mode: UInt32
    public var flags: UInt32
    /// As in OPEN.
    public var caching: Bool
    /// A bit of `flags` no open flag uses: the client asks for the new file's write-back grant
    /// too (capability `grantOnCreate`); the reply then carries `granted`.
    public static let wantsGrant: UInt32 = 1 << 30

    public init(parent: ObjectHandle, name: FileName, mode: UInt32, flags: UInt32, caching: Bool = false) {
        self.parent = parent
        self.name = name
        self.mode = mode
        self.flags = flags
        self.caching = caching
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
        buffer.writeWire(self.mode)
        buffer.writeWire(self.flags)
        buffer.writeWire(self.caching)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
        self.mode = try buffer.readWire(field: "mode")
        self.flags = try buffer.readWire(field: "flags")
        self.caching = try buffer.readWireBool(field: "caching")
    }
}

public struct CreateResponse: WireMessage {
    public var entry: Entry
    public var file: FileHandleID
    /// Whether the session now holds the new file's write-back grant: present only in the reply
    /// to a CREATE with `CreateRequest.wantsGrant` (a trailing field).
    public var granted: Bool?

    public init(entry: Entry, file: FileHandleID, granted: Bool? = nil) {
        self.entry = entry
        self.file = file
        self.granted = granted
    }
    public func encode(into buffer: inout ByteBuffer) {
        self.entry.encode(into: &buffer)
        buffer.writeWire(self.file)
        if let granted = self.granted { buffer.writeWire(granted) }
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.entry = try Entry(from: &buffer)
        self.file = try buffer.readWireFileHandle(field: "file")
        self.granted = buffer.readableBytes > 0 ? try buffer.readWireBool(field: "granted") : nil
    }
}

/// READ: up to `size` bytes at `offset` (at most the negotiated transaction size). Applied
/// under a shared page-range lock once range locks exist. A short reply means end of file.
public struct ReadRequest: WireRequest {
    public typealias Response = ReadResponse
    public static let opcode = Opcode.read
    public var file: FileHandleID
    public var offset: UInt64
    public var size: UInt32

    public init(file: FileHandleID, offset: UInt64, size: UInt32) {
        self.file = file
        self.offset = offset
        self.size = size
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.offset)
        buffer.writeWire(self.size)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.offset = try buffer.readWire(field: "offset")
        self.size = try buffer.readWire(field: "size")
    }
}

/// The bytes read: slices of the receive buffers (no copy).
public struct ReadResponse: WireMessage {
    /// The bytes read, as the client's socket reads delivered them (`ByteSlices`): handed to the
    /// kernel without being merged.
    public var slices: ByteSlices
    /// The bytes read in one buffer (a copy when they arrived scattered).
    public var data: ByteBuffer { self.slices.merged }

    public init(data: ByteBuffer) { self.slices = ByteSlices(data) }
    public init(slices: ByteSlices) { self.slices = slices }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(UInt32(self.slices.readableBytes))
        for var slice in self.slices.all { buffer.writeBuffer(&slice) }
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.slices = ByteSlices(try buffer.readWireSlice(maximum: Int(UInt32.max), field: "data"))
    }

    /// Keeps a scattered reply's slices: the length field is in the first slice
    /// (`FrameAssembler.contiguousPrefix`), the data is the rest of the payload.
    public static func decode(frame: Frame) throws -> ReadResponse {
        guard frame.body.isScattered else { return try Self.decode(payload: frame.body.first) }
        var body = frame.body
        let count: UInt32 = try body.first.readWire(field: "data length")
        if Int(count) > body.readableBytes {
            throw WireError(.truncated, "ReadResponse: data length \(count) but \(body.readableBytes) bytes follow")
        }
        if Int(count) < body.readableBytes {
            throw WireError(.trailingBytes, "\(body.readableBytes - Int(count)) bytes left after ReadResponse")
        }
        return ReadResponse(slices: body)
    }
}

/// WRITE: `data` at `offset` (ignored for O_APPEND handles, which append). One request up to
/// the negotiated transaction size is applied atomically.
public struct WriteRequest: WireRequest {
    public typealias Response = WriteResponse
    public static let opcode = Opcode.write
    public var file: FileHandleID
    public var offset: UInt64
    public var data: ByteBuffer

    public init(file: FileHandleID, offset: UInt64, data: ByteBuffer) {
        self.file = file
        self.offset = offset
        self.data = data
    }
    public func encode(into buffer: inout ByteBuffer) {
        self.data.withUnsafeReadableBytes { Self.encode(file: self.file, offset: self.offset, bytes: $0, into: &buffer) }
    }

    /// Encodes a WRITE straight from memory the caller owns (the kernel's write buffer), so the
    /// data is copied once, into the frame.
    public static func encode(file: FileHandleID, offset: UInt64, bytes: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeWire(file)
        buffer.writeWire(offset)
        buffer.writeWire(UInt32(bytes.count))
        buffer.writeBytes(bytes)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.offset = try buffer.readWire(field: "offset")
        self.data = try buffer.readWireSlice(maximum: Int(UInt32.max), field: "data")
    }
}

/// How many bytes a WRITE or COPY_FILE_RANGE wrote, and (a WRITE's, capability
/// `writeAttributes`) the file's attributes right after it, taken after the bytes were written:
/// they follow `count` when present, and a reply without them ends after `count`.
public struct WriteResponse: WireMessage {
    public var count: UInt64
    public var attributes: FileAttributes?

    public init(count: UInt64, attributes: FileAttributes? = nil) {
        self.count = count
        self.attributes = attributes
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.count)
        self.attributes?.encode(into: &buffer)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.count = try buffer.readWire(field: "count")
        self.attributes = buffer.readableBytes > 0 ? try FileAttributes(from: &buffer) : nil
    }
}

/// FLUSH: a `close(2)` of one file descriptor: reports deferred write errors and (once POSIX
/// locks exist) releases the locks of `owner`.
public struct FlushRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.flush
    public var file: FileHandleID
    public var owner: LockOwner

    public init(file: FileHandleID, owner: LockOwner) {
        self.file = file
        self.owner = owner
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.owner.rawValue)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.owner = LockOwner(try buffer.readWire(field: "owner"))
    }
}

/// RELEASE: the last reference to an open file is gone; the server closes it and, when
/// `flockOwner` is set, drops that owner's `flock(2)` locks on the file.
public struct ReleaseRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.release
    public var file: FileHandleID
    public var flockOwner: LockOwner?

    public init(file: FileHandleID, flockOwner: LockOwner? = nil) {
        self.file = file
        self.flockOwner = flockOwner
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.flockOwner != nil)
        if let owner = self.flockOwner { buffer.writeWire(owner.rawValue) }
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.flockOwner = try buffer.readWireBool(field: "hasFlockOwner") ? LockOwner(try buffer.readWire(field: "flockOwner")) : nil
    }
}

/// FSYNC: replies only after the data (and, unless `dataOnly`, the metadata) is durable.
public struct FsyncRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.fsync
    public var file: FileHandleID
    public var dataOnly: Bool

    public init(file: FileHandleID, dataOnly: Bool) {
        self.file = file
        self.dataOnly = dataOnly
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.dataOnly)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.dataOnly = try buffer.readWireBool(field: "dataOnly")
    }
}

/// FALLOCATE: `fallocate(2)` with its mode bits (KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE).
public struct FallocateRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.fallocate
    public var file: FileHandleID
    public var mode: UInt32
    public var offset: UInt64
    public var length: UInt64

    public init(file: FileHandleID, mode: UInt32, offset: UInt64, length: UInt64) {
        self.file = file
        self.mode = mode
        self.offset = offset
        self.length = length
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.mode)
        buffer.writeWire(self.offset)
        buffer.writeWire(self.length)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.mode = try buffer.readWire(field: "mode")
        self.offset = try buffer.readWire(field: "offset")
        self.length = try buffer.readWire(field: "length")
    }
}

/// COPY_FILE_RANGE: copy between two open files entirely on the server; no data crosses the
/// network. Replies with the number of bytes copied.
public struct CopyFileRangeRequest: WireRequest {
    public typealias Response = WriteResponse
    public static let opcode = Opcode.copyFileRange
    public var source: FileHandleID
    public var sourceOffset: UInt64
    public var destination: FileHandleID
    public var destinationOffset: UInt64
    public var length: UInt64

    public init(
        source: FileHandleID, sourceOffset: UInt64, destination: FileHandleID, destinationOffset: UInt64,
        length: UInt64
    ) {
        self.source = source
        self.sourceOffset = sourceOffset
        self.destination = destination
        self.destinationOffset = destinationOffset
        self.length = length
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.source)
        buffer.writeWire(self.sourceOffset)
        buffer.writeWire(self.destination)
        buffer.writeWire(self.destinationOffset)
        buffer.writeWire(self.length)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.source = try buffer.readWireFileHandle(field: "source")
        self.sourceOffset = try buffer.readWire(field: "sourceOffset")
        self.destination = try buffer.readWireFileHandle(field: "destination")
        self.destinationOffset = try buffer.readWire(field: "destinationOffset")
        self.length = try buffer.readWire(field: "length")
    }
}

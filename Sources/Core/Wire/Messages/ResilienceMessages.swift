import NIOCore

/// PING: the client's heartbeat. Sent when a connection has been quiet for a while; a
/// connection that answers nothing (not even PING) for the heartbeat timeout is treated as dead
/// and replaced. Answered with an empty reply; changes nothing.
public struct PingRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.ping

    public init() {}
    public func encode(into buffer: inout ByteBuffer) {}
    public init(from buffer: inout ByteBuffer) throws {}
}

/// REOPEN: after a server restart the client's open files and directories are gone with the old
/// session; the client opens each again under the same `FileHandleID` it already handed to the
/// kernel, so requests it resends (and the kernel's later ones) keep naming the right file.
///
/// Sent on a new session before any other request. `flags` are the original `open(2)` flags
/// without O_CREAT, O_EXCL and O_TRUNC (the file exists; truncating it again would lose data).
/// Fails with EEXIST when `file` already names an open object in this session, and with the
/// errno of the open (ENOENT when the file was removed meanwhile, EACCES, ...) otherwise; the
/// client then leaves that handle unopened and later requests on it fail with EBADF.
public struct ReopenRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.reopen

    public var file: FileHandleID
    public var handle: ObjectHandle
    public var flags: UInt32
    /// As in OPEN.
    public var caching: Bool
    /// An OPENDIR handle rather than an OPEN one.
    public var isDirectory: Bool

    public init(file: FileHandleID, handle: ObjectHandle, flags: UInt32, caching: Bool, isDirectory: Bool) {
        self.file = file
        self.handle = handle
        self.flags = flags
        self.caching = caching
        self.isDirectory = isDirectory
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.file)
        buffer.writeWire(self.handle)
        buffer.writeWire(self.flags)
        buffer.writeWire(self.caching)
        buffer.writeWire(self.isDirectory)
    }

    public init(from buffer: inout ByteBuffer) throws {
        self.file = try buffer.readWireFileHandle(field: "file")
        self.handle = try buffer.readWireHandle(field: "handle")
        self.flags = try buffer.readWire(field: "flags")
        self.caching = try buffer.readWireBool(field: "caching")
        self.isDirectory = try buffer.readWireBool(field: "isDirectory")
    }
}

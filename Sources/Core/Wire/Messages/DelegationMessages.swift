import NIOCore

/// PREALLOC: asks for `count` empty regular files made in advance in the server's staging
/// directory, for creates answered locally in delegated directories (ConsistencyContract
/// "Delegated directories"). Capability `delegation` only.
public struct PreallocRequest: WireRequest {
    public typealias Response = PreallocResponse
    public static let opcode = Opcode.prealloc
    /// The most objects one PREALLOC may ask for.
    public static let maximumCount: UInt32 = 256
    public var count: UInt32

    public init(count: UInt32) { self.count = count }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.count) }
    public init(from buffer: inout ByteBuffer) throws {
        self.count = try buffer.readWire(field: "count")
        guard self.count >= 1, self.count <= Self.maximumCount else {
            throw WireError(.invalidValue, "PREALLOC count \(self.count) outside 1...\(Self.maximumCount)")
        }
    }
}

/// One staged object: its entry (handle, attributes, final inode number) and the open file
/// the session writes it through (opened read-write, with the write-back grant).
public struct StagedObject: Hashable, Sendable {
    public var entry: Entry
    public var file: FileHandleID

    public init(entry: Entry, file: FileHandleID) {
        self.entry = entry
        self.file = file
    }
}

public struct PreallocResponse: WireMessage {
    public var objects: [StagedObject]

    public init(objects: [StagedObject]) { self.objects = objects }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(UInt32(self.objects.count))
        for object in self.objects {
            object.entry.encode(into: &buffer)
            buffer.writeWire(object.file)
        }
    }
    public init(from buffer: inout ByteBuffer) throws {
        let count: UInt32 = try buffer.readWire(field: "objects.count")
        guard count <= PreallocRequest.maximumCount else {
            throw WireError(.invalidValue, "PREALLOC reply with \(count) objects")
        }
        self.objects = []
        for _ in 0..<count {
            let entry = try Entry(from: &buffer)
            self.objects.append(StagedObject(entry: entry, file: try buffer.readWireFileHandle(field: "objects.file")))
        }
    }
}

/// DELEG_CREATE: log entry `seq` of the session: give the staged object `staged` the name `name`
/// in the delegated directory `parent`, with `mode` (umask applied), owned by the caller.
/// Applied in `seq` order; the reply is the new entry as the server made it.
public struct DelegatedCreateRequest: WireRequest {
    public typealias Response = Entry
    public static let opcode = Opcode.delegatedCreate
    public var seq: UInt64
    public var parent: ObjectHandle
    public var name: FileName
    public var staged: ObjectHandle
    public var mode: UInt32

    public init(seq: UInt64, parent: ObjectHandle, name: FileName, staged: ObjectHandle, mode: UInt32) {
        self.seq = seq
        self.parent = parent
        self.name = name
        self.staged = staged
        self.mode = mode
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.seq)
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
        buffer.writeWire(self.staged)
        buffer.writeWire(self.mode)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.seq = try buffer.readWire(field: "seq")
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
        self.staged = try buffer.readWireHandle(field: "staged")
        self.mode = try buffer.readWire(field: "mode")
    }
}

/// DELEG_UNLINK: log entry `seq`: remove `name` from the delegated directory `parent`, which the
/// client believes is the object `expected` (ESTALE otherwise).
public struct DelegatedUnlinkRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.delegatedUnlink
    public var seq: UInt64
    public var parent: ObjectHandle
    public var name: FileName
    public var expected: ObjectHandle

    public init(seq: UInt64, parent: ObjectHandle, name: FileName, expected: ObjectHandle) {
        self.seq = seq
        self.parent = parent
        self.name = name
        self.expected = expected
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.seq)
        buffer.writeWire(self.parent)
        buffer.writeWire(self.name)
        buffer.writeWire(self.expected)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.seq = try buffer.readWire(field: "seq")
        self.parent = try buffer.readWireHandle(field: "parent")
        self.name = try buffer.readWireName(field: "name")
        self.expected = try buffer.readWireHandle(field: "expected")
    }
}

/// DELEG_RETURN: the client gives back the delegation of `directory` after log entry `lastSeq`
/// (answering DELEG_RECALL, or on its own). Answered once entries through `lastSeq` are applied.
public struct DelegationReturnRequest: WireRequest {
    public typealias Response = EmptyResponse
    public static let opcode = Opcode.delegationReturn
    public var directory: ObjectHandle
    public var lastSeq: UInt64

    public init(directory: ObjectHandle, lastSeq: UInt64) {
        self.directory = directory
        self.lastSeq = lastSeq
    }
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeWire(self.directory)
        buffer.writeWire(self.lastSeq)
    }
    public init(from buffer: inout ByteBuffer) throws {
        self.directory = try buffer.readWireHandle(field: "directory")
        self.lastSeq = try buffer.readWire(field: "lastSeq")
    }
}

/// DELEG_RECALL (server to client): another client waits to touch `directory`; the holder stops
/// answering it locally, waits for its log, and answers DELEG_RETURN.
public struct DelegationRecallNotice: WireNotice {
    public static let opcode = Opcode.delegationRecall
    public var directory: ObjectHandle

    public init(directory: ObjectHandle) { self.directory = directory }
    public func encode(into buffer: inout ByteBuffer) { buffer.writeWire(self.directory) }
    public init(from buffer: inout ByteBuffer) throws {
        self.directory = try buffer.readWireHandle(field: "directory")
    }
}

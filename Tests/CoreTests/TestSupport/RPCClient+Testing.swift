import NIOCore
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// Short forms of the requests the server tests repeat, so each test reads as the scenario it
/// checks. Every helper goes through `RPCClient.call`, the real data path.
extension RPCClient {
    /// The handle of the export's root.
    var root: ObjectHandle { self.hello.root.handle }

    /// Creates and opens `name` (O_RDWR) in `parent` (default: the root) and writes `contents`.
    @discardableResult
    func createFile(
        _ name: FileName, in parent: ObjectHandle? = nil, mode: UInt32 = 0o644, contents: [UInt8] = [],
        caller: Caller = .root
    ) async throws -> CreateResponse {
        let created = try await self.call(
            CreateRequest(parent: parent ?? self.root, name: name, mode: mode, flags: UInt32(O_RDWR)), caller: caller)
        if !contents.isEmpty {
            try await self.write(contents, to: created.file, caller: caller)
        }
        return created
    }

    /// Writes all of `bytes` at `offset` and checks the count the server reports.
    func write(_ bytes: [UInt8], to file: FileHandleID, at offset: UInt64 = 0, caller: Caller = .root) async throws {
        var data = ByteBuffer()
        data.writeBytes(bytes)
        let written = try await self.call(WriteRequest(file: file, offset: offset, data: data), caller: caller)
        guard written.count == UInt64(bytes.count) else { throw Errno.io }
    }

    /// Reads up to `size` bytes at `offset`.
    func readBytes(_ file: FileHandleID, at offset: UInt64 = 0, size: UInt32 = 1 << 20) async throws -> [UInt8] {
        let reply = try await self.call(ReadRequest(file: file, offset: offset, size: size))
        return Array(reply.data.readableBytesView)
    }

    /// Creates directory `name` in `parent` (default: the root).
    @discardableResult
    func mkdir(_ name: FileName, in parent: ObjectHandle? = nil, mode: UInt32 = 0o755, caller: Caller = .root)
        async throws -> Entry
    {
        try await self.call(MkdirRequest(parent: parent ?? self.root, name: name, mode: mode), caller: caller)
    }

    /// Looks `name` up in `parent` (default: the root).
    func lookup(_ name: FileName, in parent: ObjectHandle? = nil, caller: Caller = .root) async throws -> Entry {
        try await self.call(LookupRequest(parent: parent ?? self.root, name: name), caller: caller)
    }

    /// Lists a whole directory with a fresh directory handle, `batch` entries per READDIR.
    func listDirectory(_ directory: ObjectHandle, plus: Bool, batch: UInt32 = 64, caller: Caller = .root)
        async throws -> [DirectoryEntry]
    {
        let opened = try await self.call(OpendirRequest(handle: directory), caller: caller)
        var entries: [DirectoryEntry] = []
        var cookie: UInt64 = 0
        while true {
            let reply = try await self.call(
                ReaddirRequest(directory: opened.file, cookie: cookie, maximumEntries: batch, plus: plus), caller: caller)
            entries += reply.entries
            if let last = reply.entries.last { cookie = last.cookie }
            if reply.isEnd { break }
            guard !reply.entries.isEmpty else { throw Errno.io }
        }
        _ = try await self.call(ReleasedirRequest(directory: opened.file), caller: caller)
        return entries
    }
}

/// `lstat` of a path on this machine (the export as the server sees it); throws the errno.
func onDiskStat(_ path: String) throws -> stat {
    var st = stat()
    guard lstat(path, &st) == 0 else { throw Errno.current }
    return st
}

/// The bytes of a file on this machine.
func onDiskContents(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw Errno.current }
    defer { close(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw Errno.current }
        if count == 0 { return result }
        result += chunk.prefix(count)
    }
}

/// Writes a file on this machine (outside the protocol), replacing it.
func onDiskWrite(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    guard fd >= 0 else { throw Errno.current }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw Errno.current }
}

/// A deterministic byte pattern that differs per `seed` and per position (catches shifted,
/// dropped and swapped ranges).
func pattern(_ count: Int, seed: Int, offset: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 + offset) &* 131 &+ seed &* 7919 &+ (($0 + offset) >> 8)) }
}

/// Linux `makedev`.
func makeDevice(major: UInt64, minor: UInt64) -> UInt64 {
    ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) << 32)
}

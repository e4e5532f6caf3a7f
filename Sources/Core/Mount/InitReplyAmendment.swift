import Synchronization

/// Adds to libfuse's FUSE_INIT reply the capability flags the kernel here supports but libfuse
/// 3.14 cannot ask for, on the bytes that go to /dev/fuse (`fuse_session_custom_io`).
///
/// The kernel's INIT request says which flags it knows (`flags`, and `flags2` for bits 32–63
/// when it sets FUSE_INIT_EXT); a flag is added to the reply only if the kernel advertised it.
/// Added flags:
/// - FUSE_HANDLE_KILLPRIV (bit 19, which libfuse 3.14 documents as on by default but never
///   sends) and FUSE_HANDLE_KILLPRIV_V2 (bit 28): the kernel stops sending a SETATTR of the mode,
///   as the writer, to clear set-user-ID/set-group-ID bits on write, truncate and chown. The
///   server performs those requests as the caller, so its own kernel clears the bits exactly as
///   a local filesystem does. V2 also marks the superblock SB_NOSEC, so the kernel stops asking
///   GETXATTR `security.capability` before every write to a file without those bits.
/// - FUSE_DIRECT_IO_ALLOW_MMAP (bit 36, in `flags2`, with FUSE_INIT_EXT): shared mappings of
///   files opened for direct I/O (`-o cache=none`, O_APPEND, O_DIRECT) work instead of ENODEV.
///
/// Wire layout (`<linux/fuse.h>`): a request starts with `fuse_in_header` (len u32, opcode u32,
/// unique u64, ...: 40 bytes) and INIT's body is `fuse_init_in` (major, minor, max_readahead,
/// flags, flags2: u32 each); a reply starts with `fuse_out_header` (len u32, error i32, unique
/// u64: 16 bytes) and INIT's body is `fuse_init_out` (`flags` at offset 12, `flags2` at 32).
///
/// Locking: `state` is protected by its mutex; nothing else is done while holding it.
public final class InitReplyAmendment: Sendable {
    public static let handleKillpriv: UInt64 = 1 << 19
    public static let handleKillprivV2: UInt64 = 1 << 28
    public static let initExtended: UInt64 = 1 << 30
    public static let directIOAllowMmap: UInt64 = 1 << 36
    static let initOpcode: UInt32 = 26
    static let inHeaderSize = 40
    static let outHeaderSize = 16

    /// The flags this amendment adds when the kernel offers them.
    public let wanted: UInt64

    private struct State {
        /// The unique id of the INIT request seen, until its reply goes out.
        var initUnique: UInt64?
        /// What the kernel advertised in it (flags | flags2 << 32).
        var kernelFlags: UInt64 = 0
        /// What the reply finally said, once sent.
        var negotiated: UInt64?
    }

    private let state = Mutex(State())
    /// Whether an INIT reply is still to come: lets every other reply pass without the mutex.
    private let awaitingReply = Atomic<Bool>(false)

    public init(wanted: UInt64 = handleKillpriv | handleKillprivV2 | directIOAllowMmap) {
        self.wanted = wanted
    }

    /// The flags of the INIT reply as sent (libfuse's and ours), once it has been sent.
    public var negotiated: UInt64? { self.state.withLock { $0.negotiated } }

    /// Looks at one request read from /dev/fuse; remembers INIT's unique id and flags.
    public func observeRequest(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.inHeaderSize + 16, bytes.loadLE(UInt32.self, at: 4) == Self.initOpcode else { return }
        let unique = bytes.loadLE(UInt64.self, at: 8)
        let body = Self.inHeaderSize
        let minor = bytes.loadLE(UInt32.self, at: body + 4)
        var flags = UInt64(bytes.loadLE(UInt32.self, at: body + 12))
        // flags2 exists from protocol 7.36 on, and counts only with FUSE_INIT_EXT.
        if minor >= 36, flags & Self.initExtended != 0, bytes.count >= body + 20 {
            flags |= UInt64(bytes.loadLE(UInt32.self, at: body + 16)) << 32
        }
        self.state.withLock {
            $0.initUnique = unique
            $0.kernelFlags = flags
        }
        self.awaitingReply.store(true, ordering: .releasing)
    }

    /// The amended `fuse_init_out` when `header` is the successful reply to the INIT request
    /// seen; nil when this reply is to be sent as it is.
    public func amendedReply(header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> [UInt8]? {
        guard self.awaitingReply.load(ordering: .acquiring), header.count == Self.outHeaderSize, body.count >= 16
        else { return nil }
        let unique = header.loadLE(UInt64.self, at: 8)
        let kernelFlags: UInt64? = self.state.withLock { state in
            guard state.initUnique == unique else { return nil }
            state.initUnique = nil
            self.awaitingReply.store(false, ordering: .relaxed)
            return state.kernelFlags
        }
        guard let kernelFlags else { return nil }
        var reply = [UInt8](body)
        guard header.loadLE(Int32.self, at: 4) == 0 else { return nil }
        var flags = UInt64(reply.loadLE(UInt32.self, at: 12))
        let hasFlags2 = reply.count >= 36
        if hasFlags2 { flags |= UInt64(reply.loadLE(UInt32.self, at: 32)) << 32 }
        var add = self.wanted & kernelFlags
        if !hasFlags2 { add &= 0xFFFF_FFFF }
        if add >> 32 != 0 {
            // Bits 32–63 count only with FUSE_INIT_EXT, itself only if the kernel offered it.
            if kernelFlags & Self.initExtended != 0 { add |= Self.initExtended } else { add &= 0xFFFF_FFFF }
        }
        flags |= add
        reply.storeLE(UInt32(truncatingIfNeeded: flags), at: 12)
        if hasFlags2 { reply.storeLE(UInt32(truncatingIfNeeded: flags >> 32), at: 32) }
        self.state.withLock { $0.negotiated = flags }
        return reply
    }
}

extension UnsafeRawBufferPointer {
    fileprivate func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        T(littleEndian: self.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    fileprivate func loadLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        self.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    fileprivate mutating func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        self.withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}

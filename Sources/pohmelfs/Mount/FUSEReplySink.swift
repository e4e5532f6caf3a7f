import CFuse3
import NIOCore
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// A `fuse_req_t` that may cross threads: replies go out from the network thread.
struct FUSERequest: @unchecked Sendable {
    let raw: fuse_req_t
}

/// `ReplySink` over libfuse's `fuse_reply_*` for one request. The reply objects in Core call
/// exactly one method exactly once, from whichever thread the answer arrives on; libfuse allows
/// replying from any thread.
final class FUSEReplySink: ReplySink {
    let request: FUSERequest
    /// Set when the request registered for interrupts; cleared on reply (see `InterruptRegistry`).
    let interruptID: UInt64?

    init(_ request: fuse_req_t, interruptID: UInt64? = nil) {
        self.request = FUSERequest(raw: request)
        self.interruptID = interruptID
    }

    private var req: fuse_req_t { self.request.raw }

    private func answered() {
        if let id = self.interruptID { InterruptRegistry.shared.remove(id) }
    }

    func replyError(_ errno: Errno) {
        self.answered()
        _ = fuse_reply_err(self.req, errno.rawValue)
    }

    func replyNone() {
        self.answered()
        fuse_reply_none(self.req)
    }

    func replyEntry(_ entry: EntryParameters) {
        self.answered()
        var parameters = fuse_entry_param(entry)
        _ = fuse_reply_entry(self.req, &parameters)
    }

    func replyCreate(_ entry: EntryParameters, _ open: OpenParameters) {
        self.answered()
        var parameters = fuse_entry_param(entry)
        var info = fuse_file_info(open)
        _ = fuse_reply_create(self.req, &parameters, &info)
    }

    func replyAttributes(_ attributes: FileAttributes, timeout: Double) {
        self.answered()
        var st = stat(attributes)
        _ = fuse_reply_attr(self.req, &st, timeout)
    }

    func replyOpen(_ open: OpenParameters) {
        self.answered()
        var info = fuse_file_info(open)
        _ = fuse_reply_open(self.req, &info)
    }

    /// Straight from the receive buffers: the bytes are not copied before the kernel gets them
    /// (scattered ones with one `fuse_reply_iov`, which the kernel gathers).
    func replyData(_ data: ByteSlices) {
        self.answered()
        guard data.isScattered else {
            return data.first.withUnsafeReadableBytes { bytes in
                _ = fuse_reply_buf(self.req, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
            }
        }
        data.withIOVecs { vectors in
            _ = fuse_reply_iov(self.req, vectors.baseAddress, Int32(vectors.count))
        }
    }

    func replyBytes(_ bytes: [UInt8]) {
        self.answered()
        bytes.withUnsafeBytes { raw in
            _ = fuse_reply_buf(self.req, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
    }

    func replyWrite(_ count: UInt64) {
        self.answered()
        _ = fuse_reply_write(self.req, Int(count))
    }

    func replyXattrSize(_ size: UInt32) {
        self.answered()
        _ = fuse_reply_xattr(self.req, Int(size))
    }

    func replyReadlink(_ target: [UInt8]) {
        self.answered()
        (target + [0]).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { _ = fuse_reply_readlink(self.req, $0.baseAddress) }
        }
    }

    func replyStatfs(_ statistics: StatfsResponse) {
        self.answered()
        var st = statvfs()
        st.f_bsize = UInt(statistics.blockSize)
        st.f_frsize = UInt(statistics.fragmentSize)
        st.f_blocks = fsblkcnt_t(statistics.blocks)
        st.f_bfree = fsblkcnt_t(statistics.freeBlocks)
        st.f_bavail = fsblkcnt_t(statistics.availableBlocks)
        st.f_files = fsfilcnt_t(statistics.files)
        st.f_ffree = fsfilcnt_t(statistics.freeFiles)
        st.f_favail = fsfilcnt_t(statistics.freeFiles)
        st.f_namemax = UInt(statistics.maximumNameLength)
        _ = fuse_reply_statfs(self.req, &st)
    }

    func replyLock(_ lock: GetlkResponse) {
        self.answered()
        var description = flock()
        description.l_type = lock.type.fcntlType
        description.l_whence = Int16(SEEK_SET)
        description.l_start = off_t(bitPattern: lock.range.start)
        description.l_len = lock.range.end == .max ? 0 : off_t(bitPattern: lock.range.end - lock.range.start + 1)
        description.l_pid = pid_t(bitPattern: lock.pid)
        _ = fuse_reply_lock(self.req, &description)
    }

    func replyDirectory(_ items: [DirectoryItem], plus: Bool, size: Int) {
        self.answered()
        var buffer = [CChar](repeating: 0, count: size)
        var used = 0
        buffer.withUnsafeMutableBufferPointer { raw in
            for item in items {
                let remaining = size - used
                let added: Int = (item.name.bytes + [0]).withUnsafeBufferPointer { name in
                    name.withMemoryRebound(to: CChar.self) { cName in
                        if plus {
                            var parameters = fuse_entry_param(
                                item.entry
                                    ?? EntryParameters(node: NodeID(0), attributes: nil, attributeTimeout: 0, entryTimeout: 0))
                            if item.entry?.attributes == nil {
                                parameters.attr.st_ino = ino_t(item.inode)
                                parameters.attr.st_mode = mode_t(item.mode)
                            }
                            return fuse_add_direntry_plus(
                                self.req, raw.baseAddress! + used, remaining, cName.baseAddress, &parameters,
                                off_t(bitPattern: item.nextOffset))
                        } else {
                            var st = stat()
                            st.st_ino = ino_t(item.inode)
                            st.st_mode = mode_t(item.mode)
                            return fuse_add_direntry(
                                self.req, raw.baseAddress! + used, remaining, cName.baseAddress, &st,
                                off_t(bitPattern: item.nextOffset))
                        }
                    }
                }
                // Core sized `items` with the same arithmetic, so every entry fits.
                precondition(added <= remaining, "directory entry does not fit although Core said it would")
                used += added
            }
        }
        _ = fuse_reply_buf(self.req, buffer, used)
    }
}

extension off_t {
    init(bitPattern value: UInt64) { self = off_t(Int64(bitPattern: value)) }
}

extension stat {
    /// The kernel's view of `attributes`.
    init(_ attributes: FileAttributes) {
        self.init()
        self.st_ino = ino_t(attributes.inode)
        self.st_mode = mode_t(attributes.mode)
        self.st_nlink = nlink_t(attributes.linkCount)
        self.st_uid = attributes.uid
        self.st_gid = attributes.gid
        self.st_rdev = dev_t(attributes.rdev)
        self.st_size = off_t(Int64(bitPattern: attributes.size))
        self.st_blocks = blkcnt_t(Int64(bitPattern: attributes.blocks))
        self.st_blksize = blksize_t(attributes.blockSize)
        self.st_atim = timespec(attributes.accessTime)
        self.st_mtim = timespec(attributes.modificationTime)
        self.st_ctim = timespec(attributes.changeTime)
    }
}

extension timespec {
    init(_ time: Timestamp) {
        self.init(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
    }
}

extension fuse_entry_param {
    init(_ entry: EntryParameters) {
        self.init()
        self.ino = fuse_ino_t(entry.node.rawValue)
        self.generation = 0
        if let attributes = entry.attributes { self.attr = stat(attributes) }
        self.attr_timeout = entry.attributeTimeout
        self.entry_timeout = entry.entryTimeout
    }
}

extension fuse_file_info {
    init(_ open: OpenParameters) {
        self.init()
        self.fh = open.file.rawValue
        self.direct_io = open.directIO ? 1 : 0
        self.keep_cache = open.keepCache ? 1 : 0
        self.cache_readdir = open.cacheListing ? 1 : 0
    }
}

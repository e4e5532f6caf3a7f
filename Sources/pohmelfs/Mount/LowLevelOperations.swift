import CFuse3
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// libfuse's low-level operation table: `@convention(c)` trampolines that recover the bridge
/// from the request's userdata, translate C arguments into Core types, make the reply object
/// the operation allows, and return. No trampoline waits for anything.
///
/// Interruptible (answered EINTR when the caller is signalled): blocking lock waits, and
/// operations that change nothing on the server while the mount waits for a lost server
/// (`InterruptRegistry`); a request the server is answering is answered. Operations with effects
/// (writes, creation, removal, rename, open) run to completion so an interrupted caller never
/// leaves the server in an unknown state.
enum LowLevelOperations {
    static func make() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            Unmanaged<FUSEBridge>.fromOpaque(userdata!).takeUnretainedValue().configure(conn!)
        }
        ops.lookup = { req, parent, name in
            let bridge = FUSEBridge.from(req)
            bridge.operations.lookup(
                parent: NodeID(parent), name: fileName(name), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { EntryReply(sink: $0, operation: "LOOKUP", logger: bridge.logger) })
        }
        ops.forget = { req, node, count in
            FUSEBridge.from(req).operations.forget(NodeID(node), count: count)
            fuse_reply_none(req)
        }
        ops.forget_multi = { req, count, forgets in
            let operations = FUSEBridge.from(req).operations
            for index in 0..<count {
                operations.forget(NodeID(forgets![index].ino), count: forgets![index].nlookup)
            }
            fuse_reply_none(req)
        }
        ops.getattr = { req, node, _ in
            let bridge = FUSEBridge.from(req)
            bridge.operations.getattr(
                NodeID(node), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { AttributesReply(sink: $0, operation: "GETATTR", logger: bridge.logger) })
        }
        ops.setattr = { req, node, attr, toSet, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.setattr(
                NodeID(node), changes: AttributeChanges(attr!.pointee, toSet: toSet, file: fi), caller: bridge.caller(req),
                reply: AttributesReply(sink: bridge.plain(req), operation: "SETATTR", logger: bridge.logger))
        }
        ops.readlink = { req, node in
            let bridge = FUSEBridge.from(req)
            bridge.operations.readlink(
                NodeID(node), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { ReadlinkReply(sink: $0, operation: "READLINK", logger: bridge.logger) })
        }
        ops.mknod = { req, parent, name, mode, rdev in
            let bridge = FUSEBridge.from(req)
            bridge.operations.mknod(
                parent: NodeID(parent), name: fileName(name), mode: UInt32(mode), rdev: UInt64(rdev),
                caller: bridge.caller(req), reply: EntryReply(sink: bridge.plain(req), operation: "MKNOD", logger: bridge.logger))
        }
        ops.mkdir = { req, parent, name, mode in
            let bridge = FUSEBridge.from(req)
            bridge.operations.mkdir(
                parent: NodeID(parent), name: fileName(name), mode: UInt32(mode) | 0o040000, caller: bridge.caller(req),
                reply: EntryReply(sink: bridge.plain(req), operation: "MKDIR", logger: bridge.logger))
        }
        ops.unlink = { req, parent, name in
            let bridge = FUSEBridge.from(req)
            bridge.operations.unlink(
                parent: NodeID(parent), name: fileName(name), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "UNLINK", logger: bridge.logger))
        }
        ops.rmdir = { req, parent, name in
            let bridge = FUSEBridge.from(req)
            bridge.operations.rmdir(
                parent: NodeID(parent), name: fileName(name), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "RMDIR", logger: bridge.logger))
        }
        ops.symlink = { req, target, parent, name in
            let bridge = FUSEBridge.from(req)
            bridge.operations.symlink(
                parent: NodeID(parent), name: fileName(name), target: bytes(target), caller: bridge.caller(req),
                reply: EntryReply(sink: bridge.plain(req), operation: "SYMLINK", logger: bridge.logger))
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            let bridge = FUSEBridge.from(req)
            bridge.operations.rename(
                parent: NodeID(parent), name: fileName(name), newParent: NodeID(newParent), newName: fileName(newName),
                flags: UInt32(flags), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "RENAME", logger: bridge.logger))
        }
        ops.link = { req, node, newParent, name in
            let bridge = FUSEBridge.from(req)
            bridge.operations.link(
                NodeID(node), newParent: NodeID(newParent), name: fileName(name), caller: bridge.caller(req),
                reply: EntryReply(sink: bridge.plain(req), operation: "LINK", logger: bridge.logger))
        }
        ops.open = { req, node, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.open(
                NodeID(node), flags: UInt32(bitPattern: fi!.pointee.flags), caller: bridge.caller(req),
                reply: OpenReply(sink: bridge.plain(req), operation: "OPEN", logger: bridge.logger))
        }
        ops.create = { req, parent, name, mode, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.create(
                parent: NodeID(parent), name: fileName(name), mode: UInt32(mode),
                flags: UInt32(bitPattern: fi!.pointee.flags), caller: bridge.caller(req),
                reply: CreateReply(sink: bridge.plain(req), operation: "CREATE", logger: bridge.logger))
        }
        ops.read = { req, _, size, offset, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.read(
                file: FileHandleID(fi!.pointee.fh), offset: UInt64(offset), size: size, caller: bridge.caller(req),
                reply: bridge.interruptible(req) { DataReply(sink: $0, operation: "READ", logger: bridge.logger) })
        }
        ops.write = { req, _, buffer, size, offset, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.write(
                file: FileHandleID(fi!.pointee.fh), offset: UInt64(offset),
                bytes: UnsafeRawBufferPointer(start: buffer, count: size), caller: bridge.caller(req),
                reply: WriteReply(sink: bridge.plain(req), operation: "WRITE", logger: bridge.logger))
        }
        ops.flush = { req, _, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.flush(
                file: FileHandleID(fi!.pointee.fh), owner: LockOwner(fi!.pointee.lock_owner), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "FLUSH", logger: bridge.logger))
        }
        ops.release = { req, _, fi in
            let bridge = FUSEBridge.from(req)
            let flockOwner = fi!.pointee.flock_release != 0 ? LockOwner(fi!.pointee.lock_owner) : nil
            bridge.operations.release(
                file: FileHandleID(fi!.pointee.fh), flockOwner: flockOwner, caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "RELEASE", logger: bridge.logger))
        }
        ops.fsync = { req, _, dataOnly, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.fsync(
                file: FileHandleID(fi!.pointee.fh), dataOnly: dataOnly != 0, caller: bridge.caller(req),
                reply: bridge.interruptible(req) { EmptyReply(sink: $0, operation: "FSYNC", logger: bridge.logger) })
        }
        ops.fsyncdir = { req, node, _, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.fsyncdir(
                NodeID(node), file: FileHandleID(fi!.pointee.fh), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { EmptyReply(sink: $0, operation: "FSYNCDIR", logger: bridge.logger) })
        }
        ops.opendir = { req, node, _ in
            let bridge = FUSEBridge.from(req)
            bridge.operations.opendir(
                NodeID(node), caller: bridge.caller(req),
                reply: OpenReply(sink: bridge.plain(req), operation: "OPENDIR", logger: bridge.logger))
        }
        ops.readdir = { req, _, size, offset, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.readdir(
                directory: FileHandleID(fi!.pointee.fh), offset: UInt64(bitPattern: Int64(offset)), size: size,
                plus: false, caller: bridge.caller(req),
                reply: bridge.interruptible(req) { DirectoryReply(sink: $0, operation: "READDIR", logger: bridge.logger) })
        }
        ops.readdirplus = { req, _, size, offset, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.readdir(
                directory: FileHandleID(fi!.pointee.fh), offset: UInt64(bitPattern: Int64(offset)), size: size,
                plus: true, caller: bridge.caller(req),
                reply: DirectoryReply(sink: bridge.plain(req), operation: "READDIRPLUS", logger: bridge.logger))
        }
        ops.releasedir = { req, _, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.releasedir(
                directory: FileHandleID(fi!.pointee.fh), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "RELEASEDIR", logger: bridge.logger))
        }
        ops.statfs = { req, node in
            let bridge = FUSEBridge.from(req)
            bridge.operations.statfs(
                NodeID(node), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { StatfsReply(sink: $0, operation: "STATFS", logger: bridge.logger) })
        }
        ops.setxattr = { req, node, name, value, size, flags in
            let bridge = FUSEBridge.from(req)
            let valueBytes = Array(UnsafeRawBufferPointer(start: value, count: size))
            bridge.operations.setxattr(
                NodeID(node), name: bytes(name), value: valueBytes, flags: UInt32(bitPattern: flags),
                caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "SETXATTR", logger: bridge.logger))
        }
        ops.getxattr = { req, node, name, size in
            let bridge = FUSEBridge.from(req)
            bridge.operations.getxattr(
                NodeID(node), name: bytes(name), size: UInt32(min(size, Int(UInt32.max))), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { XattrReply(sink: $0, operation: "GETXATTR", logger: bridge.logger) })
        }
        ops.listxattr = { req, node, size in
            let bridge = FUSEBridge.from(req)
            bridge.operations.listxattr(
                NodeID(node), size: UInt32(min(size, Int(UInt32.max))), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { XattrReply(sink: $0, operation: "LISTXATTR", logger: bridge.logger) })
        }
        ops.removexattr = { req, node, name in
            let bridge = FUSEBridge.from(req)
            bridge.operations.removexattr(
                NodeID(node), name: bytes(name), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "REMOVEXATTR", logger: bridge.logger))
        }
        ops.access = { req, node, mask in
            let bridge = FUSEBridge.from(req)
            bridge.operations.access(
                NodeID(node), mask: UInt32(bitPattern: mask), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { EmptyReply(sink: $0, operation: "ACCESS", logger: bridge.logger) })
        }
        ops.fallocate = { req, _, mode, offset, length, fi in
            let bridge = FUSEBridge.from(req)
            bridge.operations.fallocate(
                file: FileHandleID(fi!.pointee.fh), mode: UInt32(bitPattern: mode), offset: UInt64(offset),
                length: UInt64(length), caller: bridge.caller(req),
                reply: EmptyReply(sink: bridge.plain(req), operation: "FALLOCATE", logger: bridge.logger))
        }
        ops.copy_file_range = { req, _, inOffset, inFile, _, outOffset, outFile, length, _ in
            let bridge = FUSEBridge.from(req)
            bridge.operations.copyFileRange(
                from: FileHandleID(inFile!.pointee.fh), at: UInt64(inOffset), to: FileHandleID(outFile!.pointee.fh),
                at: UInt64(outOffset), length: UInt64(length), caller: bridge.caller(req),
                reply: WriteReply(sink: bridge.plain(req), operation: "COPY_FILE_RANGE", logger: bridge.logger))
        }
        ops.getlk = { req, _, fi, lock in
            let bridge = FUSEBridge.from(req)
            bridge.operations.getlk(
                file: FileHandleID(fi!.pointee.fh), owner: LockOwner(fi!.pointee.lock_owner),
                type: FileLockType(lock!.pointee.l_type), range: WireLockRange(lock!.pointee), caller: bridge.caller(req),
                reply: bridge.interruptible(req) { LockReply(sink: $0, operation: "GETLK", logger: bridge.logger) })
        }
        ops.setlk = { req, node, fi, lock, sleep in
            let bridge = FUSEBridge.from(req)
            bridge.operations.setlk(
                NodeID(node), file: FileHandleID(fi!.pointee.fh), owner: LockOwner(fi!.pointee.lock_owner), flavor: .posix,
                type: FileLockType(lock!.pointee.l_type), range: WireLockRange(lock!.pointee), wait: sleep != 0,
                caller: bridge.caller(req),
                reply: bridge.interruptible(req, lockWait: true) {
                    EmptyReply(sink: $0, operation: "SETLK", logger: bridge.logger)
                })
        }
        ops.flock = { req, node, fi, operation in
            let bridge = FUSEBridge.from(req)
            let type: FileLockType =
                operation & LOCK_UN != 0 ? .unlock : (operation & LOCK_EX != 0 ? .write : .read)
            bridge.operations.setlk(
                NodeID(node), file: FileHandleID(fi!.pointee.fh), owner: LockOwner(fi!.pointee.lock_owner), flavor: .flock,
                type: type, range: .wholeFile, wait: operation & LOCK_NB == 0, caller: bridge.caller(req),
                reply: bridge.interruptible(req, lockWait: true) {
                    EmptyReply(sink: $0, operation: "FLOCK", logger: bridge.logger)
                })
        }
        return ops
    }
}

extension FileLockType {
    /// From `struct flock`'s `l_type`.
    init(_ type: Int16) {
        switch Int32(type) {
        case F_RDLCK: self = .read
        case F_WRLCK: self = .write
        default: self = .unlock
        }
    }

    /// For `struct flock`'s `l_type`.
    var fcntlType: Int16 {
        switch self {
        case .read: Int16(F_RDLCK)
        case .write: Int16(F_WRLCK)
        case .unlock: Int16(F_UNLCK)
        }
    }
}

extension WireLockRange {
    /// From a `struct flock` libfuse has resolved to SEEK_SET (`l_len` 0 = to end of file).
    init(_ lock: flock) {
        let start = UInt64(max(lock.l_start, 0))
        if lock.l_len <= 0 {
            self.init(start: start, end: .max)
        } else {
            self.init(start: start, end: start &+ UInt64(lock.l_len) &- 1)
        }
    }
}

extension AttributeChanges {
    /// The changes `fuse_lowlevel_ops.setattr` asks for (`to_set` holds FUSE_SET_ATTR_* bits).
    init(_ attr: stat, toSet: Int32, file: UnsafeMutablePointer<fuse_file_info>?) {
        self.init()
        if toSet & FUSE_SET_ATTR_MODE != 0 { self.mode = UInt32(attr.st_mode) }
        if toSet & FUSE_SET_ATTR_UID != 0 { self.uid = attr.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { self.gid = attr.st_gid }
        if toSet & FUSE_SET_ATTR_SIZE != 0 {
            self.size = UInt64(max(attr.st_size, 0))
            self.file = file.map { FileHandleID($0.pointee.fh) }
        }
        if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 {
            self.accessTime = .now
        } else if toSet & FUSE_SET_ATTR_ATIME != 0 {
            self.accessTime = .set(Timestamp(seconds: Int64(attr.st_atim.tv_sec), nanoseconds: UInt32(attr.st_atim.tv_nsec)))
        }
        if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 {
            self.modificationTime = .now
        } else if toSet & FUSE_SET_ATTR_MTIME != 0 {
            self.modificationTime = .set(
                Timestamp(seconds: Int64(attr.st_mtim.tv_sec), nanoseconds: UInt32(attr.st_mtim.tv_nsec)))
        }
    }
}

extension FUSEBridge {
    /// FUSE INIT: 1 MiB requests both ways, generous background queue, no splice (slower here).
    func configure(_ conn: UnsafeMutablePointer<fuse_conn_info>) {
        conn.pointee.max_write = self.maximumIO
        conn.pointee.max_read = self.maximumIO
        conn.pointee.max_readahead = self.maximumIO
        conn.pointee.max_background = 64
        conn.pointee.congestion_threshold = 48
        // HANDLE_KILLPRIV(_V2) and DIRECT_IO_ALLOW_MMAP are added to the reply by
        // `InitReplyAmendment` (FUSECustomIO): libfuse 3.14 does not send them.
        let wanted = UInt32(FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_READDIRPLUS | FUSE_CAP_ASYNC_READ)
        conn.pointee.want |= wanted & conn.pointee.capable
        conn.pointee.want &= ~UInt32(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE)
        // With leased listings every batch is READDIRPLUS, not only the first (the kernel's
        // adaptive mode): its entries are leased lookups, so `du` and `ls -l` over a listed
        // tree need no LOOKUP at all.
        if self.operations.leases?.listings != nil { conn.pointee.want &= ~UInt32(FUSE_CAP_READDIRPLUS_AUTO) }
        conn.pointee.time_gran = 1
        self.onInit()
    }
}

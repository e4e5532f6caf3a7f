import CFuse3
import Logging
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// What libfuse's callbacks reach through `fuse_req_userdata`: the Core operations plus the
/// few things that need libfuse itself (caller identity, interrupt registration, INIT).
final class FUSEBridge: @unchecked Sendable {
    let operations: FileSystemOperations
    let logger: Logger
    /// Called on the FUSE loop thread when INIT arrives, before libfuse answers it.
    let onInit: @Sendable () -> Void
    /// Largest READ and WRITE (the negotiated transaction size, at most 1 MiB for the kernel).
    let maximumIO: UInt32
    private let groups = GroupCache()
    /// Adds to libfuse's INIT reply what libfuse 3.14 cannot ask for (`FUSECustomIO`).
    let initAmendment = InitReplyAmendment()

    init(operations: FileSystemOperations, logger: Logger, maximumIO: UInt32, onInit: @escaping @Sendable () -> Void) {
        self.operations = operations
        self.logger = logger
        self.maximumIO = maximumIO
        self.onInit = onInit
    }

    static func from(_ req: fuse_req_t?) -> FUSEBridge {
        Unmanaged<FUSEBridge>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    /// Who made the request: uid, gid, pid and supplementary groups (cached per pid briefly,
    /// since libfuse reads them from /proc).
    func caller(_ req: fuse_req_t?) -> Caller {
        let context = fuse_req_ctx(req)!.pointee
        return Caller(
            uid: context.uid, gid: context.gid, pid: UInt32(bitPattern: context.pid),
            groups: self.groups.groups(for: context.pid, req))
    }

    /// A reply for `req` that also answers EINTR if the kernel interrupts the request while it
    /// may be cut short (`InterruptRegistry`): always for a blocking lock wait (`lockWait`),
    /// otherwise only while the mount waits for its server.
    func interruptible<R: Reply>(_ req: fuse_req_t?, lockWait: Bool = false, _ make: (FUSEReplySink) -> R) -> R {
        let id = InterruptRegistry.shared.reserve()
        let reply = make(FUSEReplySink(req!, interruptID: id))
        let client: RPCClient = self.operations.client
        let mayCut: @Sendable () -> Bool
        if lockWait {
            mayCut = { true }
        } else {
            mayCut = { client.isWaitingForServer }
        }
        InterruptRegistry.shared.register(id, reply, mayCut: mayCut)
        fuse_req_interrupt_func(
            req,
            { _, data in InterruptRegistry.shared.interrupt(UInt64(UInt(bitPattern: data))) },
            UnsafeMutableRawPointer(bitPattern: UInt(id)))
        return reply
    }

    func plain(_ req: fuse_req_t?) -> FUSEReplySink { FUSEReplySink(req!) }
}

/// Supplementary groups of recent callers, by pid, for one second. Touched only by the FUSE
/// loop thread (callbacks run there), so it needs no lock.
final class GroupCache: @unchecked Sendable {
    private var entries: [pid_t: (groups: [UInt32], expires: UInt64)] = [:]

    func groups(for pid: pid_t, _ req: fuse_req_t?) -> [UInt32] {
        let now = DispatchTimeNow.nanoseconds
        if let cached = self.entries[pid], cached.expires > now { return cached.groups }
        var list = [gid_t](repeating: 0, count: 64)
        var count = Int(fuse_req_getgroups(req, Int32(list.count), &list))
        if count > list.count {
            list = [gid_t](repeating: 0, count: min(count, Caller.maximumGroups))
            count = Int(fuse_req_getgroups(req, Int32(list.count), &list))
        }
        let groups = count > 0 ? Array(list.prefix(min(count, list.count))) : []
        if self.entries.count > 1024 { self.entries.removeAll() }
        self.entries[pid] = (groups, now + 1_000_000_000)
        return groups
    }
}

/// Monotonic nanoseconds, without Foundation.
enum DispatchTimeNow {
    static var nanoseconds: UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// A C string from libfuse as a `FileName` (names are bytes, not necessarily UTF-8).
func fileName(_ name: UnsafePointer<CChar>?) -> FileName {
    guard let name else { return FileName(bytes: []) }
    return FileName(bytes: Array(UnsafeRawBufferPointer(start: name, count: strlen(name))))
}

func bytes(_ text: UnsafePointer<CChar>?) -> [UInt8] { fileName(text).bytes }

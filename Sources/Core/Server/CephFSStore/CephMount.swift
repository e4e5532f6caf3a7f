import CCephFS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where and as whom a gateway mounts CephFS (`pohmelfs serve --store cephfs`).
public struct CephConfiguration: Sendable {
    /// The ceph.conf to read; nil: libcephfs's default search (`$CEPH_CONF`, /etc/ceph/ceph.conf, ...).
    public var configurationFile: String?
    /// The cephx user without `client.` (`--ceph-id`).
    public var id: String
    /// The CephFS to mount; nil: the cluster's default filesystem.
    public var filesystem: String?
    /// Seconds to wait for the monitors and the MDS before giving up with a clear error.
    public var connectTimeout: Int
    /// `--gateway-id`: the gateway's stable name; its session carries the uuid `pohmelfs-NAME`
    /// and an old session holding that uuid is reset before mounting (`CephSessionReset`).
    public var gatewayID: String?

    public init(configurationFile: String? = nil, id: String = "admin", filesystem: String? = nil, connectTimeout: Int = 15,
                gatewayID: String? = nil) {
        self.configurationFile = configurationFile
        self.id = id
        self.filesystem = filesystem
        self.connectTimeout = connectTimeout
        self.gatewayID = gatewayID
    }

    /// Whether `name` is a usable `--gateway-id`: 1–64 of `A-Z a-z 0-9 . _ -`.
    public static func isValidGatewayID(_ name: String) -> Bool { CephSessionReset.isValid(name) }
}

/// One libcephfs mount (one MDS session) of the whole CephFS, shared by every request of a
/// gateway. libcephfs is thread-safe; every call takes its client-wide lock.
///
/// Options set before mounting, whatever ceph.conf says: `client_oc=false` (a write returns
/// only once the OSDs have it, so an acknowledged write is visible to every other CephFS client
/// and survives this process), `client_permissions=true` (libcephfs checks each call against the
/// caller's `UserPerm`), `client_acl_type=posix_acl` (as NFS-Ganesha), and a bounded
/// `client_mount_timeout`.
final class CephMount: @unchecked Sendable {
    let raw: OpaquePointer
    /// The filesystem id (`fscid`): part of every handle.
    let fscid: Int64
    /// Whether mounting reset an old session of this gateway's uuid (a restart after a crash).
    private(set) var resetOwnSession = false

    init(_ configuration: CephConfiguration) throws {
        try CephLibrary.load()
        var mount: OpaquePointer?
        var result = ceph_create(&mount, configuration.id)
        guard result == 0, let mount else {
            throw ServerError(.backingStore, "cannot create a Ceph client as client.\(configuration.id): \(Errno(-result))")
        }
        func give(_ message: String) -> ServerError {
            ceph_release(mount)
            return ServerError(.backingStore, message)
        }
        let conf = configuration.configurationFile
        result = ceph_conf_read_file(mount, conf)
        if result != 0 {
            throw give("cannot read Ceph configuration \(conf ?? "(default search path)"): \(Errno(-result))")
        }
        let timeout = String(max(1, configuration.connectTimeout))
        for (option, value) in [
            ("client_oc", "false"), ("client_permissions", "true"), ("client_acl_type", "posix_acl"),
            ("client_mount_timeout", timeout), ("rados_mon_op_timeout", timeout),
        ] {
            result = ceph_conf_set(mount, option, value)
            if result != 0 { throw give("cannot set Ceph option \(option)=\(value): \(Errno(-result))") }
        }
        let user = "client.\(configuration.id)"
        let source = conf ?? "the default ceph.conf"
        result = ceph_init(mount)
        if result != 0 { throw give(Self.explain(result, step: "connect to the Ceph monitors in \(source)", user: user, timeout: timeout)) }
        if let filesystem = configuration.filesystem {
            result = ceph_select_filesystem(mount, filesystem)
            if result != 0 { throw give("cannot select CephFS '\(filesystem)': \(Errno(-result))") }
        }
        if let gateway = configuration.gatewayID {
            // A restarted gateway: its old session (caps, locks) goes now, and the MDS would
            // refuse a new session with a uuid a live one holds.
            let uuid = CephSessionReset.uuid(of: gateway)
            result = CephSessionReset.reset(uuid: uuid, on: mount)
            if result != 0 && result != -ENOENT {
                throw give("cannot reset the old CephFS session of gateway \(gateway) (uuid \(uuid)): \(Errno(-result))")
            }
            self.resetOwnSession = result == 0
            ceph_set_uuid(mount, uuid)
            // The floor: this can only lengthen the filesystem's session_timeout.
            ceph_set_session_timeout(mount, 30)
        }
        result = ceph_mount(mount, "/")
        if result != 0 {
            let name = configuration.filesystem.map { "CephFS '\($0)'" } ?? "the default CephFS"
            var reason = Self.explain(result, step: "mount \(name) (monitors in \(source))", user: user, timeout: timeout)
            if let gateway = configuration.gatewayID, result == -EPERM || result == -EACCES {
                reason += "; or a live CephFS session holds this gateway's uuid pohmelfs-\(gateway)"
            }
            throw give(reason)
        }
        self.raw = mount
        self.fscid = ceph_get_fs_cid(mount)
    }

    private let released = Mutex(false)

    /// Ends the MDS session cleanly (its capabilities and locks are returned at once). Without
    /// it the MDS keeps a dead gateway's session, and everything it held, until
    /// `session_timeout`/`session_autoclose` (30 s on the test cluster, 60/300 s by default),
    /// and other gateways touching those inodes wait that long. Call only when no request is in
    /// flight; idempotent.
    func unmount() {
        let first = self.released.withLock { released in
            defer { released = true }
            return !released
        }
        guard first else { return }
        ceph_unmount(self.raw)
        ceph_release(self.raw)
    }

    deinit { self.unmount() }

    /// An operator-facing reason for a failed `ceph_init` or `ceph_mount`.
    private static func explain(_ result: Int32, step: String, user: String, timeout: String) -> String {
        switch -result {
        case ETIMEDOUT:
            return "cannot \(step): no answer within \(timeout) s (is the cluster up and the mon address right?)"
        case EACCES, EPERM:
            return "cannot \(step): the cluster refused \(user) (wrong key or keyring, or no caps for this filesystem)"
        case ENOENT:
            return "cannot \(step) as \(user): not found (no keyring for \(user), or no such filesystem)"
        default:
            return "cannot \(step) as \(user): \(Errno(-result))"
        }
    }

    /// Runs `body` with a `UserPerm` of `caller` (uid, gid, supplementary groups), made for this
    /// call only: libcephfs checks permissions against it and gives new objects its ids.
    func acting<T>(as caller: Caller, _ body: (OpaquePointer) throws -> T) throws -> T {
        var groups = caller.groups.map { gid_t($0) }
        return try groups.withUnsafeMutableBufferPointer { list in
            guard let perms = ceph_userperm_new(caller.uid, caller.gid, Int32(list.count), list.baseAddress) else {
                throw Errno(ENOMEM)
            }
            defer { ceph_userperm_destroy(perms) }
            return try body(perms)
        }
    }
}

/// A libcephfs result: negative errno on failure.
@inline(__always)
func cephCall<T: FixedWidthInteger & SignedInteger>(_ body: () -> T) throws -> T {
    let result = body()
    if result < 0 { throw Errno(Int32(truncatingIfNeeded: -result)) }
    return result
}

/// A counted reference to a libcephfs `Inode`, put when the last Swift reference goes.
final class CephInode: @unchecked Sendable {
    let raw: OpaquePointer
    let mount: CephMount

    init(_ raw: OpaquePointer, mount: CephMount) {
        self.raw = raw
        self.mount = mount
    }

    deinit { ceph_ll_put(self.mount.raw, self.raw) }
}

import CCephFS

#if canImport(Glibc)
import Glibc
#endif

/// Ending a dead gateway's CephFS session at once instead of waiting for the MDS to time it out
/// (docs/OPERATIONS.md, "Failover between CephFS gateways").
///
/// A gateway started with `--gateway-id NAME` mounts with the session uuid `pohmelfs-NAME`
/// (`ceph_set_uuid`). libcephfs's reclaim API with `CEPH_RECLAIM_RESET` asks the MDS to evict
/// and blocklist the session holding a uuid (same cephx user only): its capabilities and locks
/// go at once and its late OSD writes fail. There is no state transfer; the clients of the dead
/// gateway reclaim their locks themselves through the gateway they move to.
enum CephSessionReset {
    /// The session uuid of gateway `name`.
    static func uuid(of name: String) -> String { "pohmelfs-\(name)" }

    /// Whether `name` is a usable gateway id: 1–64 of `A-Z a-z 0-9 . _ -`.
    public static func isValid(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    /// Resets the session of `uuid` from `mount`, which must be initialised (`ceph_init`, the
    /// filesystem selected) and not mounted. 0 when a session was reset, `-ENOENT` when none
    /// holds the uuid, another negative errno on failure.
    static func reset(uuid: String, on mount: OpaquePointer) -> Int32 {
        let started = ceph_start_reclaim(mount, uuid, UInt32(CEPH_RECLAIM_RESET))
        ceph_finish_reclaim(mount)
        return started
    }

    /// Resets the session of `uuid` from a throwaway client (`ceph_create`, `ceph_init`,
    /// reclaim, `ceph_release`): what a surviving gateway does for a dead peer.
    static func reset(uuid: String, configuration: CephConfiguration) -> Int32 {
        guard (try? CephLibrary.load()) != nil else { return -ELIBACC }
        var raw: OpaquePointer?
        var result = ceph_create(&raw, configuration.id)
        guard result == 0, let mount = raw else { return result < 0 ? result : -EIO }
        defer { ceph_release(mount) }
        result = ceph_conf_read_file(mount, configuration.configurationFile)
        if result != 0 { return result }
        let timeout = String(max(1, configuration.connectTimeout))
        for (option, value) in [("client_mount_timeout", timeout), ("rados_mon_op_timeout", timeout)] {
            _ = ceph_conf_set(mount, option, value)
        }
        result = ceph_init(mount)
        if result != 0 { return result }
        if let filesystem = configuration.filesystem {
            result = ceph_select_filesystem(mount, filesystem)
            if result != 0 { return result }
        }
        return self.reset(uuid: uuid, on: mount)
    }
}

import CLinux
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Who the requests of one connection may claim to be: the server's answer to "a local user
/// connects to the loopback server and claims uid 0" (issue 15).
///
/// Every request carries the ``Caller`` it acts as, and the server performs it with exactly
/// those credentials. That is NFS's AUTH_SYS trust: right for a peer that is root on its host
/// (its kernel vouches for the processes behind it), wrong for any other. So:
///
/// - **TLS** (`--tls-dir`): the client proved who it is (certificate or shared secret); its
///   callers are trusted as they are, as NFS trusts an authenticated client's root.
/// - **Loopback without TLS** (the default): the server asks the kernel which user owns the
///   connecting socket (NETLINK_SOCK_DIAG; `/proc/net/tcp` as the fallback). A socket of root
///   may claim anyone — that is the mount run as root, and the FUSE kernel names the real caller.
///   Any other user's requests act as that user: the uid is always the socket owner's, the gid
///   and supplementary groups only those the user has (its passwd entry and group membership);
///   any other claim is replaced. When the owner cannot be found, requests act as nobody (65534).
/// - **Other peers without TLS** (only with `--insecure`): trusted as they claim, as NFS
///   `insecure,no_root_squash` would (`--root-squash`/`--all-squash` still apply after this).
struct CallerLimit: Sendable, Equatable {
    enum Scope: Sendable, Equatable {
        /// Callers act as they claim.
        case anyone
        /// Callers act as this user, with at most these groups.
        case user(uid: UInt32, primaryGroup: UInt32, groups: Set<UInt32>)
    }

    let scope: Scope

    static let anyone = CallerLimit(scope: .anyone)
    static let nobody = CallerLimit(
        scope: .user(uid: ExportPolicy.defaultAnonymousID, primaryGroup: ExportPolicy.defaultAnonymousID, groups: []))

    /// `caller` limited to what this connection may claim.
    func apply(_ caller: Caller) -> Caller {
        guard case .user(let uid, let primaryGroup, let groups) = self.scope else { return caller }
        let gid = caller.gid == primaryGroup || groups.contains(caller.gid) ? caller.gid : primaryGroup
        return Caller(
            uid: uid, gid: gid, pid: caller.pid,
            groups: caller.groups.filter { $0 == primaryGroup || groups.contains($0) })
    }

    /// Whether `caller` had to be changed (for a one-time log line).
    func changes(_ caller: Caller) -> Bool { self.apply(caller) != caller }

    /// The limit for a connection from `remote` to `local`. Blocking (netlink, passwd lookups):
    /// call it on the thread pool.
    static func forConnection(remote: SocketAddress?, local: SocketAddress?, authenticated: Bool) -> (CallerLimit, String) {
        if authenticated { return (.anyone, "TLS-authenticated peer") }
        guard let remote, let local, CIDR.isLoopback(remote) else {
            return (.anyone, "non-loopback peer without TLS (--insecure): trusted as it claims")
        }
        guard let owner = Self.owner(remote: remote, local: local) else {
            return (.nobody, "owner of the peer socket unknown: requests act as nobody")
        }
        if owner == 0 { return (.anyone, "local peer is root") }
        return (Self.user(owner), "local peer is uid \(owner): requests act as that user")
    }

    /// The uid that owns the client's end of the TCP connection, on this host.
    static func owner(remote: SocketAddress, local: SocketAddress) -> UInt32? {
        guard let remoteBytes = CIDR.addressBytes(of: remote), let localBytes = CIDR.addressBytes(of: local),
            let remotePort = remote.port, let localPort = local.port, remoteBytes.count == localBytes.count
        else { return nil }
        let family = remoteBytes.count == 4 ? AF_INET : AF_INET6
        let uid = remoteBytes.withUnsafeBufferPointer { source in
            localBytes.withUnsafeBufferPointer { destination in
                pohmelfs_tcp_socket_owner(
                    family, source.baseAddress, UInt16(remotePort), destination.baseAddress, UInt16(localPort))
            }
        }
        if uid >= 0 { return UInt32(uid) }
        return Self.ownerFromProcfs(remote: remoteBytes, remotePort: remotePort, local: localBytes, localPort: localPort)
    }

    /// The fallback: the `uid` column of the `/proc/net/tcp` (or `tcp6`) line whose local end
    /// is the peer and remote end is us. Addresses there are the raw bytes as 32-bit words in
    /// host order, printed in hex.
    static func ownerFromProcfs(remote: [UInt8], remotePort: Int, local: [UInt8], localPort: Int) -> UInt32? {
        func hex(_ bytes: [UInt8], _ port: Int) -> String {
            var words = ""
            for start in stride(from: 0, to: bytes.count, by: 4) {
                for byte in bytes[start..<start + 4].reversed() { words += String(format: "%02X", byte) }
            }
            return words + ":" + String(format: "%04X", port)
        }
        let file = remote.count == 4 ? "/proc/net/tcp" : "/proc/net/tcp6"
        guard let text = Self.readWhole(file) else { return nil }
        let wantedLocal = hex(remote, remotePort)
        let wantedRemote = hex(local, localPort)
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // State 06 is TIME_WAIT, whose uid column reads 0 whoever owned the socket.
            guard fields.count > 7, fields[1] == wantedLocal, fields[2] == wantedRemote, fields[3] != "06" else {
                continue
            }
            return UInt32(fields[7])
        }
        return nil
    }

    /// A procfs file read to its end (procfs reports size 0, so nothing may trust `stat`).
    private static func readWhole(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
            bytes += chunk.prefix(count)
        }
    }

    /// The limit for local user `uid`: its primary group and the groups it is a member of.
    static func user(_ uid: UInt32) -> CallerLimit {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else {
            return CallerLimit(scope: .user(uid: uid, primaryGroup: ExportPolicy.defaultAnonymousID, groups: []))
        }
        let primary = UInt32(entry.pw_gid)
        var count: Int32 = 256
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(entry.pw_name, entry.pw_gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(entry.pw_name, entry.pw_gid, &groups, &count)
        }
        let members = Set(groups.prefix(Int(max(0, count))).map { UInt32($0) })
        return CallerLimit(scope: .user(uid: uid, primaryGroup: primary, groups: members))
    }
}

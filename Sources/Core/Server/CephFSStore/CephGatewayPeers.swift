import CCephFS
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The gateways of one CephFS that know each other's names (`serve --gateway-id`), and the
/// survivor's part of a failover: resetting a dead peer's CephFS session so the files it held
/// are free at once (docs/OPERATIONS.md, "Failover between CephFS gateways").
///
/// Each gateway keeps a record `/.pohmelfs/gateways/NAME` holding its address, written once it
/// listens and removed when it stops. Every second one thread lists the others' records (each
/// read once per inode: records are replaced by rename, never rewritten in place) and another
/// connects to each known address. The two are apart because listing the directory can wait
/// on a dead gateway's capabilities (it created its record there) until its session is gone:
/// the prober touches no CephFS file. An address that
/// refuses the connection twice in a row is a dead gateway: its session is reset
/// (`CephSessionReset`) and its record removed. Only a refusal counts, never a silence: a live
/// gateway never refuses, and a wrong reset would cut off its clients.
public final class CephGatewayPeers: @unchecked Sendable {
    static let directory = "/\(CephHandleKey.directory)/gateways"
    /// Consecutive refused probes (one per interval) before a peer is declared dead.
    static let refusalsToReset = 2

    private let store: CephFSStore
    private let name: String
    private let configuration: CephConfiguration
    private let logger: Logger
    private let stopped = Mutex(false)
    /// Watcher threads still running: `stop` waits for them (bounded) so that none is inside a
    /// libcephfs call on the gateway's mount when the mount is released.
    private let running = Mutex(2)
    /// By the record's inode; the lister adds and removes, the prober counts refusals.
    private let peers = Mutex<[UInt64: Peer]>([:])

    private struct Peer: Sendable {
        var name: String
        var address: ServerAddress?
        var refusals = 0
    }

    /// Writes this gateway's record (`address` is what peers connect to) and starts watching the
    /// others. Failing to write the record is logged, not fatal: the gateway then just is not
    /// reset quickly by its peers when it dies.
    public init(store: CephFSStore, configuration: CephConfiguration, address: ServerAddress, logger: Logger) {
        self.store = store
        self.name = configuration.gatewayID ?? ""
        self.configuration = configuration
        self.logger = logger
        if store.mount.resetOwnSession {
            logger.notice("reset the CephFS session this gateway left when it last stopped uncleanly",
                          metadata: ["gateway": "\(self.name)"])
        }
        let result = self.writeRecord(address.description)
        if result != 0 {
            let problem = "cannot write the gateway record \(Self.directory)/\(self.name) in the CephFS: \(Errno(-result)); "
                + "peers will not reset this gateway's session if it dies"
            logger.warning("\(problem)")
        }
        Thread.detachNewThread { [self] in self.every(second: self.list) }
        Thread.detachNewThread { [self] in self.every(second: self.probe) }
    }

    /// Stops watching and removes this gateway's record (a clean stop needs no reset). Waits up
    /// to 3 s for the watcher threads to leave libcephfs (one waiting on a dead peer's
    /// capabilities could take until that peer's session is gone).
    public func stop() {
        let first = self.stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        for _ in 0..<300 where self.running.withLock({ $0 }) > 0 { usleep(10_000) }
        _ = ceph_unlink(self.mount, "\(Self.directory)/\(self.name)")
    }

    private var mount: OpaquePointer { self.store.mount.raw }

    private func writeRecord(_ address: String) -> Int32 {
        let result = ceph_mkdir(self.mount, Self.directory, 0o700)
        guard result == 0 || result == -EEXIST else { return result }
        let path = "\(Self.directory)/\(self.name)"
        let temporary = "\(path).\(getpid()).tmp"
        let fd = ceph_open(self.mount, temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return fd }
        let bytes = Array((address + "\n").utf8)
        let written = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { ceph_write(self.mount, fd, $0.baseAddress, Int64($0.count), 0) }
        }
        let synced = ceph_fsync(self.mount, fd, 0)
        _ = ceph_close(self.mount, fd)
        guard written == bytes.count, synced == 0 else {
            _ = ceph_unlink(self.mount, temporary)
            return written < 0 ? written : synced < 0 ? synced : -EIO
        }
        return ceph_rename(self.mount, temporary, path)
    }

    private func every(second body: () -> Void) {
        defer { self.running.withLock { $0 -= 1 } }
        while true {
            for _ in 0..<10 {
                if self.stopped.withLock({ $0 }) { return }
                usleep(100_000)
            }
            body()
        }
    }

    /// Learns the records that appeared and forgets those that went.
    private func list() {
        var seen: [UInt64: String] = [:]
        var dir: OpaquePointer?
        guard ceph_opendir(self.mount, Self.directory, &dir) == 0, let dir else { return }
        while let entry = ceph_readdir(self.mount, dir) {
            let entryName = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard entryName != ".", entryName != "..", entryName != self.name, !entryName.hasSuffix(".tmp") else { continue }
            seen[UInt64(entry.pointee.d_ino)] = entryName
        }
        _ = ceph_closedir(self.mount, dir)
        let known = self.peers.withLock { peers in
            peers = peers.filter { seen[$0.key] != nil }
            return Set(peers.keys)
        }
        for (inode, peerName) in seen where !known.contains(inode) {
            guard let address = self.readRecord(peerName) else { continue }
            self.peers.withLock { $0[inode] = Peer(name: peerName, address: address) }
            self.logger.info("peer gateway \(peerName) at \(address)")
        }
    }

    /// Connects to every known peer; resets those that refused `refusalsToReset` times running.
    private func probe() {
        for (inode, peer) in self.peers.withLock({ $0 }) {
            guard let address = peer.address else { continue }
            let refused = Self.refuses(address)
            let count = self.peers.withLock { peers -> Int in
                guard var entry = peers[inode] else { return 0 }
                entry.refusals = refused ? entry.refusals + 1 : 0
                peers[inode] = entry
                return entry.refusals
            }
            if count >= Self.refusalsToReset, self.reset(peer) {
                self.peers.withLock { $0[inode] = nil }
            }
        }
    }

    /// Whether the peer's session is gone (reset now, or already).
    private func reset(_ peer: Peer) -> Bool {
        let uuid = CephSessionReset.uuid(of: peer.name)
        self.logger.info("gateway \(peer.name) refuses connections; resetting its CephFS session (uuid \(uuid))")
        let started = ContinuousClock.now
        let result = CephSessionReset.reset(uuid: uuid, configuration: self.configuration)
        let took = ContinuousClock.now - started
        let address = peer.address.map { "\($0)" } ?? "?"
        switch -result {
        case 0:
            let text = "reset the CephFS session of gateway \(peer.name) (\(address)): it refuses connections; "
                + "its capabilities and locks are released (took \(took))"
            self.logger.notice("\(text)")
        case ENOENT:
            self.logger.info("gateway \(peer.name) (\(address)) refuses connections and has no CephFS session left (asked in \(took))")
        default:
            let text = "cannot reset the CephFS session of gateway \(peer.name) (\(address)): \(Errno(-result)); "
                + "the MDS drops it after session_timeout"
            self.logger.warning("\(text)")
            return false  // keep the record: try again next round
        }
        _ = ceph_unlink(self.mount, "\(Self.directory)/\(peer.name)")
        return true
    }

    private func readRecord(_ peerName: String) -> ServerAddress? {
        let fd = ceph_open(self.mount, "\(Self.directory)/\(peerName)", O_RDONLY, 0)
        guard fd >= 0 else { return nil }
        defer { _ = ceph_close(self.mount, fd) }
        var buffer = [CChar](repeating: 0, count: 512)
        let count = ceph_read(self.mount, fd, &buffer, Int64(buffer.count - 1), 0)
        guard count > 0 else { return nil }
        let text = String(cString: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
        return ServerAddress(parsing: text)
    }

    /// Whether a TCP connection to `address` is refused (within 1 s). Any other outcome,
    /// success, timeout or unreachable, is not a refusal.
    static func refuses(_ address: ServerAddress) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let list else { return false }
        defer { freeaddrinfo(list) }
        let info = list.pointee
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return false }
        if errno == ECONNREFUSED { return true }
        guard errno == EINPROGRESS else { return false }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&poller, 1, 1000) == 1 else { return false }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return false }
        return error == ECONNREFUSED
    }
}

import CCephFS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An open directory stream of a `CephFSStore`.
///
/// Locking: the stream position is the state protected by `stream`, held for a whole READDIR,
/// as in `LocalDirectory`.
public final class CephDirectory: @unchecked Sendable {
    struct Stream: @unchecked Sendable {
        let raw: OpaquePointer
        /// Cookie of the next entry (0 at the start): `ceph_telldir` after the last one returned.
        var position: Int64 = 0
    }

    let stream: Mutex<Stream>
    let inode: CephInode
    /// The handle it was opened by.
    let handle: ObjectHandle

    init(raw: OpaquePointer, inode: CephInode, handle: ObjectHandle) {
        self.stream = Mutex(Stream(raw: raw))
        self.inode = inode
        self.handle = handle
    }

    deinit {
        let raw = self.stream.withLock { $0.raw }
        ceph_ll_releasedir(self.inode.mount.raw, raw)
    }
}

/// Listing directories.
extension CephFSStore {
    public func opendir(_ request: OpendirRequest, caller: Caller) throws -> CephDirectory {
        let inode = try self.resolveDirectory(request.handle)
        var raw: OpaquePointer?
        _ = try self.mount.acting(as: caller) { perms in
            try cephCall { ceph_ll_opendir(self.mount.raw, inode.raw, &raw, perms) }
        }
        return CephDirectory(raw: raw!, inode: inode, handle: request.handle)
    }

    /// Cookies are `ceph_telldir` positions (opaque, stable for the stream).
    public func readdir(
        _ directory: CephDirectory, cookie: UInt64, maximumEntries: Int, plus: Bool, caller: Caller
    ) throws -> ReaddirResponse {
        try directory.stream.withLock { stream in
            let mount = self.mount.raw
            let wanted = Int64(bitPattern: cookie)
            if wanted != stream.position {
                if wanted == 0 { ceph_rewinddir(mount, stream.raw) } else { ceph_seekdir(mount, stream.raw, wanted) }
                stream.position = wanted
            }
            var entries: [DirectoryEntry] = []
            while entries.count < maximumEntries {
                var entry = dirent()
                var stx = ceph_statx()
                let result = try cephCall {
                    ceph_readdirplus_r(mount, stream.raw, &entry, &stx, Self.want, Self.noFollow, nil)
                }
                if result == 0 { return ReaddirResponse(entries: entries, isEnd: true) }
                let name = withUnsafeBytes(of: entry.d_name) { bytes in
                    FileName(bytes: Array(bytes.prefix(while: { $0 != 0 })))
                }
                let next = ceph_telldir(mount, stream.raw)
                stream.position = next
                let described = plus && name.validate() == nil ? self.entry(stx) : nil
                entries.append(
                    DirectoryEntry(
                        name: name, cookie: UInt64(bitPattern: next), inode: UInt64(entry.d_ino), type: entry.d_type,
                        entry: described))
            }
            return ReaddirResponse(entries: entries, isEnd: false)
        }
    }
}

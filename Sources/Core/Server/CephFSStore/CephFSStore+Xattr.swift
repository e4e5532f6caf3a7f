import CCephFS
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Extended attributes, as the caller. On symbolic links the store behaves as the local store
/// does (no attributes; changes EPERM). `ceph.*` attributes are CephFS's virtual ones (layout,
/// quota); the cephx user's MDS caps decide whether a caller may set them.
extension CephFSStore {
    public func setxattr(_ request: SetxattrRequest, caller: Caller) throws {
        let (inode, stx) = try self.resolve(request.handle)
        try XattrName.validate(request.name)
        if UInt32(stx.stx_mode) & 0o170000 == 0o120000 { throw Errno.permission }
        _ = try self.mount.acting(as: caller) { perms in
            try XattrName.withCString(request.name) { name in
                try request.value.withUnsafeBytes { value in
                    try cephCall {
                        ceph_ll_setxattr(
                            self.mount.raw, inode.raw, name, value.baseAddress, value.count,
                            Int32(bitPattern: request.flags), perms)
                    }
                }
            }
        }
    }

    public func getxattr(_ request: GetxattrRequest, caller: Caller) throws -> XattrResponse {
        let (inode, stx) = try self.resolve(request.handle)
        try XattrName.validate(request.name)
        if UInt32(stx.stx_mode) & 0o170000 == 0o120000 { throw Errno.noData }
        return try self.mount.acting(as: caller) { perms in
            try XattrName.withCString(request.name) { name in
                try Self.sized(request.size) { buffer, capacity in
                    ceph_ll_getxattr(self.mount.raw, inode.raw, name, buffer, capacity, perms)
                }
            }
        }
    }

    public func listxattr(_ request: ListxattrRequest, caller: Caller) throws -> XattrResponse {
        let (inode, stx) = try self.resolve(request.handle)
        if UInt32(stx.stx_mode) & 0o170000 == 0o120000 { return XattrResponse(size: 0, value: []) }
        return try self.mount.acting(as: caller) { perms in
            try Self.sized(request.size) { buffer, capacity in
                var length = 0
                let result = ceph_ll_listxattr(
                    self.mount.raw, inode.raw, buffer?.assumingMemoryBound(to: CChar.self), capacity, &length, perms)
                return result < 0 ? result : Int32(truncatingIfNeeded: length)
            }
        }
    }

    public func removexattr(_ request: RemovexattrRequest, caller: Caller) throws {
        let (inode, stx) = try self.resolve(request.handle)
        try XattrName.validate(request.name)
        if UInt32(stx.stx_mode) & 0o170000 == 0o120000 { throw Errno.permission }
        _ = try self.mount.acting(as: caller) { perms in
            try XattrName.withCString(request.name) { name in
                try cephCall { ceph_ll_removexattr(self.mount.raw, inode.raw, name, perms) }
            }
        }
    }

    /// The size-query convention of getxattr(2) and listxattr(2): size 0 asks for the length.
    private static func sized(_ size: UInt32, _ call: (UnsafeMutableRawPointer?, Int) -> Int32) throws -> XattrResponse {
        if size == 0 {
            let length = try cephCall { call(nil, 0) }
            return XattrResponse(size: UInt32(length), value: [])
        }
        let capacity = min(Int(size), ByteBuffer.wireMaximumBlob)
        var value = [UInt8](repeating: 0, count: capacity)
        let length = try cephCall { value.withUnsafeMutableBytes { call($0.baseAddress, capacity) } }
        return XattrResponse(size: UInt32(length), value: Array(value.prefix(Int(length))))
    }
}

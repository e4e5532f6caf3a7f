import CLinux
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Extended attributes, through the object's procfs path (there is no descriptor form of the
/// xattr calls that works on O_PATH descriptors).
///
/// Symbolic links cannot be reached that way without following them (see
/// `ObjectReference.reopenPath()`), so on a link the store reports no attributes: an empty
/// list, ENODATA for any name, and EPERM for changes (Linux refuses `user.*` on links anyway).
extension LocalDirectoryStore {
    public func setxattr(_ request: SetxattrRequest, caller: Caller) throws {
        let object = try self.resolve(request.handle)
        try XattrName.validate(request.name)
        try ThreadIdentity.acting(as: caller) {
            let path = try object.reopenPath()
            _ = try XattrName.withCString(request.name) { name in
                try systemCall {
                    request.value.withUnsafeBytes { value in
                        CLinux.setxattr(path, name, value.baseAddress, value.count, Int32(bitPattern: request.flags))
                    }
                }
            }
        }
    }

    public func getxattr(_ request: GetxattrRequest, caller: Caller) throws -> XattrResponse {
        let object = try self.resolve(request.handle)
        try XattrName.validate(request.name)
        if object.isSymbolicLink { throw Errno.noData }
        return try ThreadIdentity.acting(as: caller) {
            let path = try object.reopenPath()
            return try XattrName.withCString(request.name) { name in
                try Self.sized(request.size) { buffer, capacity in CLinux.getxattr(path, name, buffer, capacity) }
            }
        }
    }

    public func listxattr(_ request: ListxattrRequest, caller: Caller) throws -> XattrResponse {
        let object = try self.resolve(request.handle)
        if object.isSymbolicLink { return XattrResponse(size: 0, value: []) }
        return try ThreadIdentity.acting(as: caller) {
            let path = try object.reopenPath()
            return try Self.sized(request.size) { buffer, capacity in
                CLinux.listxattr(path, buffer?.assumingMemoryBound(to: CChar.self), capacity)
            }
        }
    }

    public func removexattr(_ request: RemovexattrRequest, caller: Caller) throws {
        let object = try self.resolve(request.handle)
        try XattrName.validate(request.name)
        try ThreadIdentity.acting(as: caller) {
            let path = try object.reopenPath()
            _ = try XattrName.withCString(request.name) { name in try systemCall { CLinux.removexattr(path, name) } }
        }
    }

    /// The size-query convention of getxattr(2) and listxattr(2): size 0 asks for the length.
    private static func sized(
        _ size: UInt32, _ call: (UnsafeMutableRawPointer?, Int) -> Int
    ) throws -> XattrResponse {
        if size == 0 {
            let length = try systemCall { call(nil, 0) }
            return XattrResponse(size: UInt32(length), value: [])
        }
        let capacity = min(Int(size), ByteBuffer.wireMaximumBlob)
        var value = [UInt8](repeating: 0, count: capacity)
        let length = try systemCall { value.withUnsafeMutableBytes { call($0.baseAddress, capacity) } }
        return XattrResponse(size: UInt32(length), value: Array(value.prefix(length)))
    }
}

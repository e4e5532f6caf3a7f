/// Wraps kernel file handles into `ObjectHandle`s the client cannot forge, and unwraps them.
///
/// Layout of an `ObjectHandle`, all little-endian:
/// ```
/// u8   format        1
/// i32  handleType    file_handle.handle_type from name_to_handle_at(2)
/// u8   length        n, at most 128 (MAX_HANDLE_SZ)
/// n    handle        file_handle.f_handle
/// u64  tag0, tag1    SipHash-2-4 under two independent keys of (export id, format..handle)
/// ```
/// The export id binds a handle to the export that issued it: a handle from another export on
/// the same filesystem does not verify. The keys persist in the server's state directory, so
/// handles stay valid across restarts; a handle that fails verification is answered ESTALE.
public struct HandleAuthenticator: Sendable {
    /// A kernel file handle, as name_to_handle_at(2) describes it.
    public struct KernelHandle: Hashable, Sendable {
        public var type: Int32
        public var bytes: [UInt8]
        public init(type: Int32, bytes: [UInt8]) {
            self.type = type
            self.bytes = bytes
        }

        /// The bytes in one call (`ObjectHandle.hash(into:)` says why).
        public func hash(into hasher: inout Hasher) {
            hasher.combine(self.type)
            self.bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    static let format: UInt8 = 1
    static let maximumKernelHandle = 128

    private let first: SipHash24
    private let second: SipHash24
    private let exportID: [UInt8]

    /// `key` is 32 bytes of secret; `exportID` identifies the export (its root's kernel handle).
    public init(key: [UInt8], exportID: [UInt8]) {
        precondition(key.count == 32, "handle key must be 32 bytes")
        func word(_ at: Int) -> UInt64 {
            (0..<8).reduce(0) { $0 | UInt64(key[at + $1]) << (8 * UInt64($1)) }
        }
        self.first = SipHash24(k0: word(0), k1: word(8))
        self.second = SipHash24(k0: word(16), k1: word(24))
        self.exportID = exportID
    }

    public func wrap(_ handle: KernelHandle) -> ObjectHandle {
        var bytes: [UInt8] = [Self.format]
        bytes.reserveCapacity(1 + 4 + 1 + handle.bytes.count + 16)
        withUnsafeBytes(of: handle.type.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(handle.bytes.count))
        bytes.append(contentsOf: handle.bytes)
        let (tag0, tag1) = self.tags(of: bytes)
        withUnsafeBytes(of: tag0.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: tag1.littleEndian) { bytes.append(contentsOf: $0) }
        return ObjectHandle(bytes: bytes)
    }

    /// The kernel handle inside `handle`, or nil when it is malformed or its tag does not verify.
    public func unwrap(_ handle: ObjectHandle) -> KernelHandle? {
        let bytes = handle.bytes
        guard bytes.count >= 1 + 4 + 1 + 16, bytes[0] == Self.format else { return nil }
        let length = Int(bytes[5])
        guard length <= Self.maximumKernelHandle, bytes.count == 6 + length + 16 else { return nil }
        let body = Array(bytes[0..<(6 + length)])
        let (tag0, tag1) = self.tags(of: body)
        var expected: [UInt8] = []
        withUnsafeBytes(of: tag0.littleEndian) { expected.append(contentsOf: $0) }
        withUnsafeBytes(of: tag1.littleEndian) { expected.append(contentsOf: $0) }
        // Constant-time comparison: the time taken must not tell how many bytes matched.
        var difference: UInt8 = 0
        for index in 0..<16 { difference |= expected[index] ^ bytes[6 + length + index] }
        guard difference == 0 else { return nil }
        let type = Int32(littleEndian: bytes[1..<5].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        return KernelHandle(type: type, bytes: Array(bytes[6..<(6 + length)]))
    }

    private func tags(of body: [UInt8]) -> (UInt64, UInt64) {
        let message = self.exportID + body
        return (self.first.hash(message), self.second.hash(message))
    }
}

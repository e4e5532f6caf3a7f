/// Extended-attribute names as both stores take them from the wire: checked once, passed to C
/// as NUL-terminated strings.
enum XattrName {
    /// EINVAL for an empty name or one holding NUL, ERANGE past the kernel's name limit.
    static func validate(_ name: [UInt8]) throws {
        guard !name.isEmpty, !name.contains(0) else { throw Errno.invalid }
        guard name.count <= XattrResponse.maximumNameLength else { throw Errno.range }
    }

    static func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer { raw in
            try raw.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

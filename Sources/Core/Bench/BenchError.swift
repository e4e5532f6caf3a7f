#if canImport(Glibc)
    import Glibc
#endif

/// Why the benchmark could not start, or why one measurement failed: always a one-line message
/// that names the target and what to do about it.
///
/// Preflight failures (`targetMissing` ... `targetTooSmall`) are raised before any workload runs;
/// `io` failures are raised by a workload and recorded in the report against that target.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// The target path does not exist.
        case targetMissing
        /// The target path exists but is not a directory.
        case targetNotDirectory
        /// The bench could not create its working directory in the target.
        case targetNotWritable
        /// The target's filesystem has less free space (or fewer inodes) than the workloads need.
        case targetTooSmall
        /// A system call failed during a workload.
        case io
        /// The run was interrupted (SIGINT or SIGTERM).
        case cancelled
        /// A setting is out of range.
        case invalidSetting
    }

    public var code: Code
    public var message: String
    /// The errno of the failed system call, when there was one.
    public var errno: Int32?
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, errno: Int32? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.errno = errno
        self.file = file
        self.line = line
    }

    /// An `io` error for a failed system call: "`operation` `path`: strerror".
    static func system(
        _ operation: String, _ path: String, errno code: Int32, file: String = #fileID, line: Int = #line
    )
        -> BenchError
    {
        BenchError(
            .io, "\(operation) \(path): \(BenchError.describe(errno: code))", errno: code, file: file, line: line)
    }

    /// `strerror` text for an errno, such as "No space left on device".
    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    public var description: String { self.message }
}

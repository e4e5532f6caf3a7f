/// A point in time with nanoseconds, as `struct timespec` holds it.
public struct Timestamp: Hashable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    /// Always below 1,000,000,000.
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public var description: String { "\(self.seconds).\(self.nanoseconds)" }
}

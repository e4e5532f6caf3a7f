/// A closed range of bytes in a file, `start...end`, where `end == UInt64.max` means "to end of file".
///
/// Byte-range locks name ranges the way `struct flock` does after the kernel has normalised it:
/// both ends are included, and a lock "to EOF" extends over every offset the file could ever have,
/// so it also covers bytes appended later. `UInt64.max` is that bound here; callers that receive
/// a different sentinel (the FUSE protocol uses `OFFSET_MAX`, the largest signed 64-bit value)
/// translate it at the edge.
///
/// Invariant: `start <= end`, so a range is never empty.
///
/// Every comparison below is written so that it cannot overflow: adjacency compares `start - 1`
/// (after checking `start > 0`) against the other range's end, and never computes `end + 1`
/// unless `end` is known to be below another end (STYLE guideline 12).
public struct ByteRange: Hashable, Sendable, CustomStringConvertible {
    /// The first byte of the range.
    public let start: UInt64
    /// The last byte of the range, included; `UInt64.max` means "to end of file".
    public let end: UInt64

    /// The page size transaction locks are aligned to.
    public static let pageSize: UInt64 = 4096

    /// Every byte the file has or could ever have: what `flock()` locks, and `F_SETLK` with
    /// `l_start == 0` and `l_len == 0`.
    public static let wholeFile = ByteRange(0, UInt64.max)

    /// A range from `start` to `end`, both included. Traps if `end < start`: use
    /// `init(validatingStart:end:)` for values that arrive from the network.
    public init(_ start: UInt64, _ end: UInt64) {
        precondition(start <= end, "ByteRange \(start)...\(end) is empty")
        self.start = start
        self.end = end
    }

    /// A range from a Swift closed range.
    public init(_ range: ClosedRange<UInt64>) {
        self.init(range.lowerBound, range.upperBound)
    }

    /// A range from untrusted bounds; an end before the start is `LockError.Code.invalidRange`
    /// (EINVAL at the edge).
    public init(validatingStart start: UInt64, end: UInt64) throws(LockError) {
        guard start <= end else {
            throw LockError(.invalidRange, "lock range ends (\(end)) before it starts (\(start))")
        }
        self.init(start, end)
    }

    /// A range from an offset and a length as `struct flock` carries them after `l_whence` is
    /// applied: a length of zero means "to end of file". A range that would run past the last
    /// representable offset is `LockError.Code.invalidRange`, as Linux answers EINVAL (or
    /// EOVERFLOW) for it.
    public init(offset: UInt64, length: UInt64) throws(LockError) {
        if length == 0 {
            self.init(offset, UInt64.max)
            return
        }
        // offset + length - 1 must not overflow; length >= 1 here, so compare without adding.
        guard length - 1 <= UInt64.max - offset else {
            throw LockError(.invalidRange, "lock range at \(offset) with length \(length) overflows")
        }
        self.init(offset, offset + (length - 1))
    }

    /// Whether the range runs to end of file.
    public var isToEndOfFile: Bool { self.end == UInt64.max }

    /// Whether the range covers every byte of the file.
    public var isWholeFile: Bool { self.start == 0 && self.end == UInt64.max }

    /// Whether the two ranges share at least one byte.
    public func overlaps(_ other: ByteRange) -> Bool {
        self.start <= other.end && other.start <= self.end
    }

    /// Whether the two ranges share a byte or sit next to each other with no gap, so that their
    /// union is one range. Used to merge same-mode locks of one owner.
    public func touches(_ other: ByteRange) -> Bool {
        // `other` does not end before `self` starts (allowing other.end == self.start - 1) ...
        let otherReachesSelf = self.start == 0 || self.start - 1 <= other.end
        // ... and `self` does not end before `other` starts.
        let selfReachesOther = other.start == 0 || other.start - 1 <= self.end
        return otherReachesSelf && selfReachesOther
    }

    /// Whether every byte of `other` lies in this range.
    public func contains(_ other: ByteRange) -> Bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether `offset` lies in this range.
    public func contains(_ offset: UInt64) -> Bool {
        self.start <= offset && offset <= self.end
    }

    /// The smallest range covering both; only meaningful when the ranges touch.
    public func union(_ other: ByteRange) -> ByteRange {
        precondition(self.touches(other), "union of disjoint ranges \(self) and \(other)")
        return ByteRange(min(self.start, other.start), max(self.end, other.end))
    }

    /// The bytes the two ranges share, or nil if they do not overlap.
    public func intersection(_ other: ByteRange) -> ByteRange? {
        guard self.overlaps(other) else { return nil }
        return ByteRange(max(self.start, other.start), min(self.end, other.end))
    }

    /// What is left of this range after removing `other`: up to one piece before it and one
    /// after it. Removing the middle of a range leaves both pieces (the split into three, less
    /// the middle); removing a range that does not overlap leaves `self` as `before` or `after`.
    public func subtracting(_ other: ByteRange) -> (before: ByteRange?, after: ByteRange?) {
        guard self.overlaps(other) else {
            return other.start > self.end ? (self, nil) : (nil, self)
        }
        // other.start > self.start >= 0, so other.start - 1 cannot underflow.
        let before = other.start > self.start ? ByteRange(self.start, other.start - 1) : nil
        // other.end < self.end <= UInt64.max, so other.end + 1 cannot overflow.
        let after = other.end < self.end ? ByteRange(other.end + 1, self.end) : nil
        return (before, after)
    }

    /// The range widened outwards to whole pages: the start rounded down and the end rounded up to
    /// the last byte of its page. Transaction locks are taken on page-aligned ranges so that a
    /// reader never sees a page that one transaction has only partly written. A range whose last
    /// page reaches the top of the offset space is clamped to end of file.
    public func pageAligned(pageSize: UInt64 = ByteRange.pageSize) -> ByteRange {
        precondition(pageSize > 0 && pageSize & (pageSize - 1) == 0, "page size must be a power of two")
        let mask = pageSize - 1
        let alignedStart = self.start & ~mask
        // The last byte of end's page is end | mask; that never overflows and is at most .max.
        let alignedEnd = self.end | mask
        return ByteRange(alignedStart, alignedEnd)
    }

    /// Human-readable, as the lock inspector prints it: `0–EOF`, `4096–8191`.
    public var description: String {
        let end = self.isToEndOfFile ? "EOF" : String(self.end)
        return "\(self.start)–\(end)"
    }
}

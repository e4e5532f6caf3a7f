/// Whether a lock may be shared with other owners' locks over the same bytes.
///
/// `shared` is `F_RDLCK` / `LOCK_SH` and what a read transaction takes; `exclusive` is `F_WRLCK` /
/// `LOCK_EX` and what a write transaction takes. Unlocking is not a mode: it is a separate
/// operation on `LockManager`.
public enum LockMode: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case shared
    case exclusive

    /// Whether a lock in this mode and one in `other` can be held by two different owners over
    /// the same bytes: only two shared locks can.
    public func conflicts(with other: LockMode) -> Bool {
        self == .exclusive || other == .exclusive
    }

    /// `read` or `write`, the words `pohmelfs locks` prints.
    public var description: String {
        switch self {
        case .shared: return "read"
        case .exclusive: return "write"
        }
    }
}

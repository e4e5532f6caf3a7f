/// The identity that decides "same owner": an owner key together with the kind of lock.
///
/// Two locks with the same holder never conflict; a new lock replaces its holder's existing locks
/// on the range it covers. Including the kind means a POSIX lock and an OFD lock conflict even if
/// their owner keys are equal, as on Linux, where one is owned by a file table and the other by an
/// open file description. Equality ignores the pid, as `LockOwnerKey` does.
public struct LockHolder: Hashable, Sendable, CustomStringConvertible {
    public var owner: LockOwnerKey
    public var kind: LockKind

    public init(owner: LockOwnerKey, kind: LockKind) {
        self.owner = owner
        self.kind = kind
    }

    /// A total order on holders: by owner, then by kind. `FileLockList` keeps its locks in it.
    func precedes(_ other: LockHolder) -> Bool {
        if self.owner != other.owner {
            return self.owner.precedes(other.owner)
        }
        return self.kind.sortOrder < other.kind.sortOrder
    }

    public var description: String { "\(self.kind) \(self.owner)" }
}

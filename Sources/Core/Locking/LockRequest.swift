/// A request to lock a range of a file: what `F_SETLK`, `F_OFD_SETLK`, `flock()` or a read or
/// write transaction asks of the `LockManager`.
///
/// `File` is the caller's identity for a file (the server uses `ObjectHandle`); the lock manager
/// only hashes and compares it.
public struct LockRequest<File: Hashable & Sendable>: Hashable, Sendable, CustomStringConvertible {
    /// The file to lock.
    public var file: File
    /// Who asks; see `LockOwnerKey` for what the owner stands for per kind.
    public var owner: LockOwnerKey
    /// Which API asks. `flock` requests must cover `ByteRange.wholeFile`.
    public var kind: LockKind
    /// Shared or exclusive.
    public var mode: LockMode
    /// The bytes to lock.
    public var range: ByteRange

    public init(file: File, owner: LockOwnerKey, kind: LockKind, mode: LockMode, range: ByteRange) {
        self.file = file
        self.owner = owner
        self.kind = kind
        self.mode = mode
        self.range = range
    }

    /// The lock an I/O transaction takes: exclusive for a write, shared for a read, on the
    /// transaction's byte range widened to whole pages (`ByteRange.pageAligned(pageSize:)`), owned
    /// by the transaction itself. Take it with `wait: true` and unlock it (same owner, kind and
    /// aligned range) when the I/O is done.
    public static func transaction(
        file: File,
        session: SessionID,
        transaction: TransactionID,
        mode: LockMode,
        range: ByteRange,
        pageSize: UInt64 = ByteRange.pageSize
    ) -> LockRequest {
        LockRequest(
            file: file,
            owner: LockOwnerKey(session: session, transaction: transaction),
            kind: .transaction,
            mode: mode,
            range: range.pageAligned(pageSize: pageSize)
        )
    }

    /// The identity that decides "same owner".
    public var holder: LockHolder { LockHolder(owner: self.owner, kind: self.kind) }

    /// The request as a lock of its file, stamped with `since`.
    func lock(since: ContinuousClock.Instant) -> FileLock {
        FileLock(owner: self.owner, kind: self.kind, mode: self.mode, range: self.range, since: since)
    }

    public var description: String { "\(self.kind) \(self.mode) \(self.range) of \(self.file) by \(self.owner)" }
}

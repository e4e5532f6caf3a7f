import PohmelfsCore

/// A file identity for lock tests: the lock manager only needs `Hashable & Sendable`.
struct TestFile: Hashable, Sendable, CustomStringConvertible {
    var name: String
    init(_ name: String) { self.name = name }
    var description: String { self.name }
}

/// Owners, holders and instants shared by the lock tests.
enum LockFixtures {
    /// One instant for every lock whose time does not matter to the test.
    static let t0 = ContinuousClock.now

    static let sessionA = SessionID(1)
    static let sessionB = SessionID(2)

    static func owner(_ session: SessionID, _ owner: UInt64, pid: Int32? = nil) -> LockOwnerKey {
        LockOwnerKey(session: session, owner: LockOwner(owner), pid: pid)
    }

    /// A POSIX holder in session A named by a small number.
    static func posix(_ number: UInt64) -> LockHolder {
        LockHolder(owner: Self.owner(Self.sessionA, number), kind: .posix)
    }

    /// A lock of `holder` stamped `t0`.
    static func lock(_ holder: LockHolder, _ mode: LockMode, _ range: ClosedRange<UInt64>) -> FileLock {
        FileLock(owner: holder.owner, kind: holder.kind, mode: mode, range: ByteRange(range), since: Self.t0)
    }
}

/// "To end of file", for readable range literals in tests: `100...eof`.
let eof = UInt64.max

#if canImport(Glibc)
import Glibc
#endif

/// POSIX, OFD and flock locks that conflict across servers sharing one store (the CephFS store:
/// its locks are arbitrated by the MDS for every CephFS client).
///
/// The server's own `LockService` stays the authority among its clients (waiting, deadlock
/// detection, reclaim, the lock inspector); the store holds a copy of every lock it grants:
/// a SETLK is taken in the store first (never sleeping there: a sleeping libcephfs call cannot be
/// cancelled and holds a thread; a blocking SETLKW retries with backoff instead), then in the
/// `LockService`; an unlock, a FLUSH (`close(2)`) and a failed local grant release it in the
/// store again. The last close of an open file (RELEASE) closes the store's file, which releases
/// every store lock taken through it.
///
/// Owners: the store sees one 63-bit owner per (session, lock owner); flock locks are whole-file
/// locks in a separate owner space (bit 62), so they conflict with fcntl locks held through other
/// servers, as NFS's do.
enum StoreLockGate {
    /// The longest pause between two tries of a blocked SETLKW.
    static let maximumBackoff: UInt32 = 200_000  // microseconds

    static func owner(session: SessionID, owner: LockOwner, flavor: FileLockFlavor) -> UInt64 {
        let hasher = SipHash24(k0: 0x706f_686d_656c_6673, k1: 0x6c6f_636b_6f77_6e72)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: session.rawValue.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: owner.rawValue.littleEndian) { bytes.append(contentsOf: $0) }
        let hash = hasher.hash(bytes) & ((1 << 62) - 1)
        return flavor == .flock ? hash | (1 << 62) : hash
    }

    /// The range a request locks in the store: flock locks cover the whole file.
    static func range(_ request: SetlkRequest) -> (start: UInt64, end: UInt64) {
        request.flavor == .flock ? (0, UInt64.max) : (request.range.start, request.range.end)
    }

    /// Takes `request`'s lock in the store; a blocking request retries until it is granted, or
    /// answers EINTR once `stillWanted` says no one waits for it any more (the connection went,
    /// or the file was released).
    static func acquire<Store: BackingStore>(
        _ store: Store, file: Store.File, request: SetlkRequest, session: SessionID, stillWanted: () -> Bool
    ) throws {
        let owner = self.owner(session: session, owner: request.owner, flavor: request.flavor)
        let (start, end) = self.range(request)
        var pause: UInt32 = 2_000
        while true {
            do {
                try store.storeLock(file, owner: owner, type: request.type, start: start, end: end)
                return
            } catch let error as Errno where error == Errno(EAGAIN) && request.wait {
                guard stillWanted() else { throw Errno.interrupted }
                usleep(pause)
                pause = min(pause * 2, self.maximumBackoff)
            }
        }
    }

    /// SETLK through a store other servers share: a lock is taken in the store first, then in
    /// this server's table (`local`), and given back to the store if the table refuses it; an
    /// unlock frees this server's copy, then the store's.
    static func setlk<Store: BackingStore, Result>(
        _ store: Store, file: Store.File, request: SetlkRequest, session: SessionID, stillWanted: () -> Bool,
        local: () throws -> Result
    ) throws -> Result {
        let (start, end) = self.range(request)
        let release = {
            self.release(
                store, file: file, owner: request.owner, flavor: request.flavor, session: session, start: start, end: end)
        }
        if request.type == .unlock {
            defer { release() }
            return try local()
        }
        try self.acquire(store, file: file, request: request, session: session, stillWanted: stillWanted)
        do {
            return try local()
        } catch {
            release()
            throw error
        }
    }

    /// Releases `request`'s range (or, for `wholeFile`, everything) of `owner` in the store.
    /// Errors are not the caller's: the lock is gone locally, and the store's copy goes at the
    /// latest with the file's last close.
    static func release<Store: BackingStore>(
        _ store: Store, file: Store.File, owner: LockOwner, flavor: FileLockFlavor, session: SessionID,
        start: UInt64 = 0, end: UInt64 = UInt64.max
    ) {
        try? store.storeLock(
            file, owner: self.owner(session: session, owner: owner, flavor: flavor), type: .unlock, start: start,
            end: end)
    }

    /// A close (FLUSH) by `owner`: POSIX locks go with any close of the file by their owner, in
    /// the store too when other servers share it; nothing to do for a store that does not.
    static func closed<Store: BackingStore>(_ store: Store, file: Store.File, owner: LockOwner, session: SessionID) {
        guard store.sharesLocks else { return }
        self.release(store, file: file, owner: owner, flavor: .posix, session: session)
    }
}

/// The live lock table for `pohmelfs locks`.
extension LockService {
    /// Every held lock and waiting request, client and transaction locks alike, whose path starts
    /// with `pathPrefix`; paths come from `describe` (nil paths show as `?`).
    func table(pathPrefix: [UInt8], describe: (ObjectHandle) -> [UInt8]?) -> LockTableResponse {
        let now = self.now
        let snapshot = self.records.snapshot().entries + self.transactions.snapshot().entries
        let sessions = self.sessions.withLock { $0 }
        var paths: [ObjectHandle: [UInt8]] = [:]
        var entries: [LockTableEntry] = []
        for entry in snapshot {
            let path = paths[entry.file] ?? describe(entry.file) ?? Array("?".utf8)
            paths[entry.file] = path
            guard pathPrefix.isEmpty || path.starts(with: pathPrefix) else { continue }
            let info = sessions[entry.owner.session]
            var blockedBy = (SessionID(0), UInt32(0))
            var waiting = false
            if case .waiting(_, let behind) = entry.state {
                waiting = true
                if let first = behind.first {
                    blockedBy = (first.owner.session, UInt32(bitPattern: first.owner.pid ?? 0))
                }
            }
            let age = entry.age(at: now)
            let milliseconds = UInt64(max(0, age.components.seconds)) * 1000
                + UInt64(max(0, age.components.attoseconds)) / 1_000_000_000_000_000
            entries.append(
                LockTableEntry(
                    path: path, range: WireLockRange(start: entry.range.start, end: entry.range.end),
                    mode: entry.mode == .exclusive ? .exclusive : .shared, kind: Self.wireKind(entry.kind),
                    session: entry.owner.session, client: Array((info?.client ?? "").utf8),
                    peer: Array((info?.peer ?? "").utf8), owner: entry.owner.owner,
                    pid: UInt32(bitPattern: entry.owner.pid ?? 0), waiting: waiting, blockedBySession: blockedBy.0,
                    blockedByPid: blockedBy.1, ageMilliseconds: milliseconds))
            if entries.count == LockTableResponse.maximumEntries {
                return LockTableResponse(entries: entries, truncated: true)
            }
        }
        return LockTableResponse(entries: entries, truncated: false)
    }

    private static func wireKind(_ kind: LockKind) -> LockTableEntry.Kind {
        switch kind {
        case .transaction: .transaction
        case .posix: .posix
        case .ofd: .ofd
        case .flock: .flock
        }
    }
}

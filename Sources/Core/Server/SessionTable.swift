import NIOCore
import Synchronization

/// The sessions of a server by id, attached or waiting for their client to come back.
///
/// When a connection drops its session is kept, detached, for `lease` (the lock lease): a
/// client that reconnects within it resumes the session (HELLO `resumeSession`). When the lease
/// runs out undisturbed, `onExpire` runs once for the session: its files close and its locks go.
///
/// At most `maximumDetached` sessions wait at once: a detached session keeps its open files, so
/// without a bound a client that connects, opens and disconnects in a loop would hold the
/// server's descriptors for a lease each. Past the bound the session detached longest ago
/// expires at once, as if its lease had run out.
///
/// Locking: one mutex over the table, never held while calling out.
final class SessionTable<Store: BackingStore>: Sendable {
    private struct Entry {
        var session: ClientSession<Store>
        /// Bumped on every detach and resume, so an expiry timer set for an older detach does
        /// nothing.
        var generation: UInt64 = 0
        /// While detached: the order of the detach (older first) and what expiry runs.
        var detachedAs: UInt64?
        var onExpire: (@Sendable () -> Void)?
    }

    private struct Table {
        var entries: [SessionID: Entry] = [:]
        var detachCount: UInt64 = 0
        var detached = 0
    }

    let maximumDetached: Int
    private let table = Mutex(Table())

    init(maximumDetached: Int = 1024) {
        self.maximumDetached = max(1, maximumDetached)
    }

    /// Records a new, attached session.
    func insert(_ session: ClientSession<Store>) {
        self.table.withLock { $0.entries[session.id] = Entry(session: session) }
    }

    /// The session `id` names, marked attached again; nil when the server does not have it
    /// (restarted, or the lease ran out), it belongs to a client of another name, or `secret` is
    /// not the session's (a session id and name alone, which the lock table shows, resume nothing).
    func resume(_ id: SessionID, clientName: String, secret: [UInt8]) -> ClientSession<Store>? {
        self.table.withLock { table in
            guard var entry = table.entries[id], entry.session.clientName == clientName,
                entry.session.holdsSecret(secret)
            else { return nil }
            entry.generation &+= 1
            if entry.detachedAs != nil { table.detached -= 1 }
            entry.detachedAs = nil
            entry.onExpire = nil
            table.entries[id] = entry
            return entry.session
        }
    }

    /// Marks `session` detached and, unless it is resumed first, runs `onExpire` after `lease`
    /// (or sooner, when more than `maximumDetached` sessions wait).
    func detach(
        _ session: ClientSession<Store>, lease: TimeAmount, on eventLoop: any EventLoop,
        onExpire: @escaping @Sendable () -> Void
    ) {
        let (generation, evicted): (UInt64?, [@Sendable () -> Void]) = self.table.withLock { table in
            guard var entry = table.entries[session.id] else { return (nil, []) }
            entry.generation &+= 1
            if entry.detachedAs == nil { table.detached += 1 }
            table.detachCount &+= 1
            entry.detachedAs = table.detachCount
            entry.onExpire = onExpire
            table.entries[session.id] = entry
            var evicted: [@Sendable () -> Void] = []
            while table.detached > self.maximumDetached, let oldest = Self.oldestDetached(in: table) {
                if let expire = table.entries.removeValue(forKey: oldest)?.onExpire { evicted.append(expire) }
                table.detached -= 1
            }
            return (table.entries[session.id] == nil ? nil : entry.generation, evicted)
        }
        for expire in evicted { expire() }
        guard let generation else { return }
        eventLoop.scheduleTask(in: lease) {
            let expire = self.table.withLock { table -> (@Sendable () -> Void)? in
                guard let entry = table.entries[session.id], entry.detachedAs != nil, entry.generation == generation
                else { return nil }
                table.entries[session.id] = nil
                table.detached -= 1
                return entry.onExpire
            }
            expire?()
        }
    }

    private static func oldestDetached(in table: Table) -> SessionID? {
        table.entries.lazy.compactMap { id, entry in entry.detachedAs.map { (id, $0) } }.min { $0.1 < $1.1 }?.0
    }

    /// Sessions known, attached or not.
    var count: Int { self.table.withLock { $0.entries.count } }

    /// Sessions detached and waiting for their client.
    var detachedCount: Int { self.table.withLock { $0.detached } }
}

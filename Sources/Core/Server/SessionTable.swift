import NIOCore
import Synchronization

/// The sessions of a server by id, attached or waiting for their client to come back.
///
/// When a connection drops its session is kept, detached, for `lease` (the lock lease): a
/// client that reconnects within it resumes the session (HELLO `resumeSession`). When the lease
/// runs out undisturbed, `onExpire` runs once for the session: its files close and its locks go.
///
/// Locking: one mutex over the table, never held while calling out.
final class SessionTable<Store: BackingStore>: Sendable {
    private struct Entry {
        var session: ClientSession<Store>
        /// Bumped on every detach and resume, so an expiry timer set for an older detach does
        /// nothing.
        var generation: UInt64 = 0
        var detached = false
    }

    private let entries = Mutex<[SessionID: Entry]>([:])

    /// Records a new, attached session.
    func insert(_ session: ClientSession<Store>) {
        self.entries.withLock { $0[session.id] = Entry(session: session) }
    }

    /// The session `id` names, marked attached again; nil when the server does not have it
    /// (restarted, or the lease ran out) or it belongs to a client of another name.
    func resume(_ id: SessionID, clientName: String) -> ClientSession<Store>? {
        self.entries.withLock { entries in
            guard var entry = entries[id], entry.session.clientName == clientName else { return nil }
            entry.generation &+= 1
            entry.detached = false
            entries[id] = entry
            return entry.session
        }
    }

    /// Marks `session` detached and, unless it is resumed first, runs `onExpire` after `lease`.
    func detach(
        _ session: ClientSession<Store>, lease: TimeAmount, on eventLoop: any EventLoop,
        onExpire: @escaping @Sendable () -> Void
    ) {
        let generation: UInt64? = self.entries.withLock { entries in
            guard var entry = entries[session.id] else { return nil }
            entry.generation &+= 1
            entry.detached = true
            entries[session.id] = entry
            return entry.generation
        }
        guard let generation else { return }
        eventLoop.scheduleTask(in: lease) {
            let expired = self.entries.withLock { entries -> Bool in
                guard let entry = entries[session.id], entry.detached, entry.generation == generation else {
                    return false
                }
                entries[session.id] = nil
                return true
            }
            if expired { onExpire() }
        }
    }

    /// Sessions known, attached or not.
    var count: Int { self.entries.withLock { $0.count } }
}

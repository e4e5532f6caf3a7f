import NIOCore

/// Which connection a session answers on. Replies, including those sent long after the request
/// (a blocked SETLK granted, a write acknowledged after invalidations), go to the connection
/// the session is attached to now, not the one the request came in on: after a resume the old
/// one is gone and the client waits on the new one.
extension ClientSession {
    /// Attaches the session to `channel`; returns the connection it was attached to before, if
    /// any and different (the caller closes it: the client has moved on).
    func attach(_ channel: any Channel) -> (any Channel)? {
        self.connection.withLock { connection in
            defer { connection = channel }
            return connection.flatMap { $0 === channel ? nil : $0 }
        }
    }

    /// Detaches the session from `channel` if it is still attached there; false when another
    /// connection has taken the session over meanwhile (then nothing ends). `channel` nil: true
    /// only when no connection holds the session (a resume whose connection ended mid-HELLO).
    func detach(_ channel: (any Channel)?) -> Bool {
        self.connection.withLock { connection in
            guard let channel else { return connection == nil }
            guard let current = connection, current === channel else { return false }
            connection = nil
            return true
        }
    }

    /// The connection the session answers on now, nil while detached.
    var currentConnection: (any Channel)? { self.connection.withLock { $0 } }

    /// Sends `frame` on the current connection; dropped while detached (the client resends the
    /// request after it reconnects, and the reply cache answers it if it was replay-unsafe).
    func send(_ frame: ByteBuffer) {
        self.currentConnection?.writeAndFlush(frame, promise: nil)
    }
}

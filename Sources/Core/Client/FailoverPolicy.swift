/// Which server of a mount's list a reconnecting client tries next, and how long it waits first.
///
/// A mount may name several servers of one export; it uses one at a time (`current`). When the
/// connection to it is lost, `ResilientConnection` asks this policy for each reconnect attempt:
/// - after a lost connection (EOF, reset, refused), the first attempt goes to the server in use
///   again (a live server resumes the session: locks, reply cache and all), the following ones
///   to the others in list order, wrapping around, so a server that comes back is tried again
///   on the next round;
/// - after silence (the heartbeat timeout), the first attempt goes to the next server: the silent
///   one would most likely only cost a connect or HELLO timeout.
/// The backoff grows per round over the whole list, not per server, so moving to a live second
/// server costs one backoff step, not the list's worth. With one server this is exactly the
/// single-server behaviour: every attempt to it, the backoff growing per attempt.
///
/// A pure value: no I/O, no clock; `ResilientConnection` owns it on its event loop.
struct FailoverPolicy: Sendable, Equatable {
    /// Why the connection to `current` ended.
    enum Loss: Sendable, Equatable {
        /// Closed, reset, or a failed write: the server may be alive and the cut short.
        case closed
        /// Nothing came from the server for the heartbeat timeout.
        case silent
    }

    /// The servers in the user's order; never empty.
    let servers: [ServerAddress]
    /// The server in use, or the last one used while reconnecting.
    private(set) var current: Int
    /// Where this outage's attempts start.
    private var start: Int

    init(servers: [ServerAddress], current: Int = 0) {
        precondition(!servers.isEmpty, "a client needs at least one server")
        precondition(servers.indices.contains(current))
        self.servers = servers
        self.current = current
        self.start = current
    }

    var inUse: ServerAddress { self.servers[self.current] }

    /// The connection to `current` ended; the attempts that follow are numbered from 1.
    mutating func lost(_ loss: Loss) {
        self.start = loss == .silent ? (self.current + 1) % self.servers.count : self.current
    }

    /// The index of the server reconnect attempt `attempt` (1, 2, ...) goes to.
    func server(forAttempt attempt: Int) -> Int {
        (self.start + max(attempt, 1) - 1) % self.servers.count
    }

    /// Which round over the list attempt `attempt` belongs to (1, 2, ...), for the backoff.
    func round(ofAttempt attempt: Int) -> Int {
        (max(attempt, 1) - 1) / self.servers.count + 1
    }

    /// A reconnect to `index` succeeded; it is the server in use now.
    mutating func connected(to index: Int) {
        precondition(self.servers.indices.contains(index))
        self.current = index
        self.start = index
    }
}

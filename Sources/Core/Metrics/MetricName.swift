/// The names of the server's Prometheus metrics and their `# HELP` text, in one table, so the
/// code that records a figure and the exposition that describes it cannot disagree.
///
/// Names follow the Prometheus conventions: a `pohmelfs_` prefix, base units (seconds, bytes),
/// `_total` on counters. The dashboards and alerts people build on these names are an interface:
/// rename nothing without saying so in the release notes.
public enum MetricName: String, CaseIterable, Sendable {
    /// Requests answered, labelled `opcode` (READ, WRITE, LOOKUP, ...).
    case requests = "pohmelfs_requests_total"
    /// Requests that failed, labelled `opcode` and `errno` (ENOSPC, EIO, ...): what to alert on.
    case requestErrors = "pohmelfs_request_errors_total"
    /// Expected negative answers, labelled `opcode` and `errno`: a LOOKUP of a name that does
    /// not exist (ENOENT), an xattr that is not set (ENODATA) or a size probe (ERANGE), a lock
    /// that conflicts (EAGAIN), a name that exists (EEXIST), an interrupted wait (EINTR).
    /// Routine work makes thousands of these; they are not failures (`RequestOutcome`).
    case negativeAnswers = "pohmelfs_request_negative_answers_total"
    /// Time from a request's arrival to its reply, labelled `opcode`.
    case requestDuration = "pohmelfs_request_duration_seconds"
    /// File data sent to clients in READ replies.
    case bytesRead = "pohmelfs_read_bytes_total"
    /// File data written by WRITE requests.
    case bytesWritten = "pohmelfs_written_bytes_total"
    /// Clients connected now.
    case connectedClients = "pohmelfs_connected_clients"
    /// Requests being performed now.
    case requestsInFlight = "pohmelfs_requests_in_flight"
    /// Connections closed for breaking the protocol.
    case protocolErrors = "pohmelfs_protocol_errors_total"
    /// Locks held now, labelled `kind` (posix, ofd, flock, transaction).
    case locksHeld = "pohmelfs_locks_held"
    /// Lock requests waiting now, labelled `kind`.
    case locksWaiting = "pohmelfs_locks_waiting"
    /// Cache invalidations sent to clients.
    case invalidationsSent = "pohmelfs_invalidations_sent_total"
    /// 1, labelled `version`: which build is running.
    case buildInfo = "pohmelfs_build_info"
    /// The standard process metrics (Prometheus client conventions), from /proc/self.
    case processCPU = "process_cpu_seconds_total"
    case processResident = "process_resident_memory_bytes"
    case processVirtual = "process_virtual_memory_bytes"
    case processStart = "process_start_time_seconds"
    case processOpenFDs = "process_open_fds"
    case processMaxFDs = "process_max_fds"

    /// The `# HELP` line's text.
    public var help: String {
        switch self {
        case .requests: "Requests answered, by opcode."
        case .requestErrors: "Requests that failed, by opcode and errno (expected negative answers are apart)."
        case .negativeAnswers: "Expected negative answers (LOOKUP ENOENT, GETXATTR ENODATA, lock conflicts, ...), by opcode and errno."
        case .requestDuration: "Seconds from a request's arrival to its reply, by opcode."
        case .bytesRead: "File data sent to clients in READ replies, in bytes."
        case .bytesWritten: "File data written by WRITE requests, in bytes."
        case .connectedClients: "Clients connected now."
        case .requestsInFlight: "Requests being performed now."
        case .protocolErrors: "Connections closed because the client broke the protocol."
        case .locksHeld: "Locks held now, by kind (posix, ofd, flock, transaction)."
        case .locksWaiting: "Lock requests waiting now, by kind."
        case .invalidationsSent: "Cache invalidations sent to clients."
        case .buildInfo: "Always 1; the version label names the running build."
        case .processCPU: "Total user and system CPU time spent in seconds."
        case .processResident: "Resident memory size in bytes."
        case .processVirtual: "Virtual memory size in bytes."
        case .processStart: "Start time of the process since unix epoch in seconds."
        case .processOpenFDs: "Number of open file descriptors."
        case .processMaxFDs: "Maximum number of open file descriptors."
        }
    }

    /// The label that tells the request type apart.
    public static let opcodeLabel = "opcode"
    /// The label that tells the lock kind apart.
    public static let kindLabel = "kind"
    /// The label naming an error (`ENOENT`).
    public static let errnoLabel = "errno"
}

/// How long the client polls, in microseconds, as an environment variable sets it
/// (`RequestPolling`'s `POHMELFS_FUSE_POLL_US`, `ReplyPolling`'s `POHMELFS_REPLY_POLL_US`).
enum PollingWindow {
    /// The most a window may be: a poll holds the event loop, and the server's notices and the
    /// loop's timers wait for it.
    static let maximumMicroseconds: UInt64 = 1_000

    /// `variable`'s value in `environment`: `fallback` when unset, nil when it is not a number of
    /// microseconds up to `maximumMicroseconds`.
    static func microseconds(_ variable: String, in environment: [String: String], fallback: UInt64) -> UInt64? {
        guard let text = environment[variable] else { return fallback }
        guard let value = UInt64(text), value <= Self.maximumMicroseconds else { return nil }
        return value
    }
}

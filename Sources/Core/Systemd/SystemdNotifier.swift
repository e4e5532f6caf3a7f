import CSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd (or whoever set `NOTIFY_SOCKET`) about the service's state with `sd_notify(3)`.
///
/// Outside systemd, with no `NOTIFY_SOCKET`, every call does nothing. Only `READY=1` after the
/// service really is ready, `STATUS=` with live figures, `WATCHDOG=1` while healthy, and
/// `STOPPING=1` when shutting down.
public struct SystemdNotifier: Sendable {
    public init() {}

    /// True when a notification socket is configured.
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    public func ready(status: String? = nil) { self.send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? [])) }
    public func status(_ text: String) { self.send(["STATUS=\(text)"]) }
    public func watchdog() { self.send(["WATCHDOG=1"]) }
    public func stopping() { self.send(["STOPPING=1"]) }

    private func send(_ lines: [String]) {
        guard self.isActive else { return }
        _ = sd_notify(0, lines.joined(separator: "\n"))
    }
}

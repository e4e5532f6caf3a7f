/// When the client waits for the server's reply by polling its socket instead of sleeping.
///
/// At queue depth 1 (a program's `unlink`, `rename` or 4 KiB `pread` after another) the client
/// sends a request and would sleep in `epoll_wait` until the reply wakes it. On a virtual machine
/// that sleep and wake-up is a large part of the request (FIELD-NOTES): the server's reply comes
/// about 70 µs after the request leaves, and `poll` on the socket and /dev/fuse for that long
/// costs less than being woken. So, in a burst of requests (`RequestPolling.inBurst`: a program
/// calling one after another), the client polls for up to `window` after it has sent what it had
/// to send, then leaves the reply to its event loop, which finds it without sleeping.
///
/// A wait that ends with neither a reply nor a request (the server is slow: a 1 MiB WRITE, a
/// truncation, a lock that waits) backs off as `RequestPolling` does: after k such waits in a
/// row, the next 2^k - 1 chances (at most 15) are skipped. Not thread-safe: the event loop's
/// thread owns it.
public struct ReplyPolling: Sendable {
    /// How long a wait lasts, in nanoseconds; 0 never polls.
    public let window: UInt64
    private var failures = 0
    private var skips = 0

    /// `window` in microseconds (`POHMELFS_REPLY_POLL_US`; 0 turns this off).
    public init(windowMicroseconds: UInt64) {
        self.window = windowMicroseconds * 1_000
    }

    /// The default window, 100 µs: somewhat more than the server takes to answer a namespace
    /// request or a read from its cache on this machine.
    public static let defaultWindowMicroseconds: UInt64 = 100

    /// The window `POHMELFS_REPLY_POLL_US` sets in `environment`: the default when unset, nil
    /// when it is not a number of microseconds up to 1,000 (a wait holds the event loop).
    public static func windowMicroseconds(from environment: [String: String]) -> UInt64? {
        PollingWindow.microseconds(Self.variable, in: environment, fallback: Self.defaultWindowMicroseconds)
    }

    /// The environment variable that sets the window.
    public static let variable = "POHMELFS_REPLY_POLL_US"

    /// A reply is owed and /dev/fuse is empty at `now`: the time to poll until, or nil to sleep.
    public mutating func deadline(at now: UInt64, inBurst: Bool) -> UInt64? {
        guard self.window > 0, inBurst else { return nil }
        guard self.skips == 0 else {
            self.skips -= 1
            return nil
        }
        return now + self.window
    }

    /// A wait ended: `foundSomething` when the socket or /dev/fuse became readable before its
    /// deadline.
    public mutating func waitEnded(foundSomething: Bool) {
        if foundSomething {
            self.failures = 0
        } else {
            self.failures = min(self.failures + 1, 4)
            self.skips = (1 << self.failures) - 1
        }
    }
}

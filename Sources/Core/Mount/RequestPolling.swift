/// When the client keeps reading /dev/fuse for a moment instead of going back to sleep.
///
/// A program that makes one request after another (`tar`, `git`, `ls -l`, a build's `stat`s)
/// leaves the client idle for only a few microseconds between requests: the kernel answers the
/// program, which makes its next call. Going to sleep in `epoll_wait` there and being woken by
/// the next request costs more than the request itself on a virtual machine (FIELD-NOTES: a
/// wake-up is 25–50 µs here; `getxattr` answered by the client, 50,000 calls: 6,442/s and 52.6 µs
/// of client CPU per call sleeping, 26,193/s and 36.6 µs polling for 50 µs). So, in a burst, the
/// client polls /dev/fuse (non-blocking reads) for up to `window` before sleeping, as NAPI and
/// io_uring's hybrid polling do.
///
/// Only in a burst: the last request came less than four windows (at least 200 µs) after the
/// client went idle (the wake-up it then paid for is part of that gap; while the server owed a
/// reply, the client is idle from the reply on), so a program calling now and then costs no
/// polling; and a poll that finds nothing ends the burst and backs off: after k polls in a row
/// that found nothing, the next 2^k - 1 chances to poll (at most 15) are skipped, so a program
/// calling every 100 µs or so (too slow for a poll to catch, quick enough to look like a burst)
/// pays a poll in every sixteen calls, not one per call. Only while no request to the server is
/// unanswered: its reply comes on the connection, which a poll of /dev/fuse would keep waiting
/// (`ReplyPolling` watches both). Not thread-safe: the event loop's thread owns it.
public struct RequestPolling: Sendable {
    /// How long a poll lasts, in nanoseconds; 0 never polls.
    public let window: UInt64
    /// The longest idle gap before a request that still counts as a burst: four windows, and at
    /// least four default windows, so that a short window (or none) leaves `ReplyPolling` its
    /// bursts.
    private let burstGap: UInt64
    /// When the client last found /dev/fuse empty and did not poll (or its poll found nothing).
    private var idleSince: UInt64?
    /// `idleSince` was set while the server owed a reply: the client was waiting for the server,
    /// not for the program, and the idle clock starts again once the server has answered.
    private var idleWhileOwed = false
    /// The last request came soon after the client went idle, or while it was busy: a program
    /// calling one request after another (`ReplyPolling` waits for replies only then).
    public private(set) var inBurst = false
    /// Polls in a row that found nothing, and the chances to poll still to skip for them.
    private var failures = 0
    private var skips = 0

    /// `window` in microseconds (`POHMELFS_FUSE_POLL_US`; 0 turns polling off).
    public init(windowMicroseconds: UInt64) {
        self.window = windowMicroseconds * 1_000
        self.burstGap = 4 * max(windowMicroseconds, Self.defaultWindowMicroseconds) * 1_000
    }

    /// The default window, 50 µs: about one wake-up on this machine.
    public static let defaultWindowMicroseconds: UInt64 = 50

    /// The window `POHMELFS_FUSE_POLL_US` sets in `environment`: the default when unset, nil
    /// when it is not a number of microseconds up to 1,000 (a poll holds the event loop: the
    /// server's notices and the loop's timers wait for it).
    public static func windowMicroseconds(from environment: [String: String]) -> UInt64? {
        PollingWindow.microseconds(Self.variable, in: environment, fallback: Self.defaultWindowMicroseconds)
    }

    /// The environment variable that sets the window.
    public static let variable = "POHMELFS_FUSE_POLL_US"

    /// A request was read at `now`.
    public mutating func requestRead(at now: UInt64) {
        if let idleSince = self.idleSince {
            self.inBurst = now &- idleSince <= self.burstGap
            self.idleSince = nil
        } else {
            // Read while busy or polling: the burst goes on, and polling pays.
            self.inBurst = true
            self.failures = 0
            self.skips = 0
        }
    }

    /// /dev/fuse was empty at `now`: the time to poll until, or nil to go back to sleep (then
    /// the client is idle from `now`). `serverIdle`: no request to the server is unanswered.
    public mutating func pollDeadline(at now: UInt64, serverIdle: Bool) -> UInt64? {
        if serverIdle && self.idleWhileOwed {
            // The server has answered: the program's turn starts now (the channel looks again
            // when the last reply is answered), not when the request left.
            self.idleSince = nil
            self.idleWhileOwed = false
        }
        let mayPoll = self.window > 0 && self.inBurst && serverIdle
        if mayPoll && self.skips == 0 { return now + self.window }
        if mayPoll { self.skips -= 1 }
        if self.idleSince == nil {
            self.idleSince = now
            self.idleWhileOwed = !serverIdle
        }
        return nil
    }

    /// A poll until `now` found nothing: the burst is over.
    public mutating func pollFoundNothing(at now: UInt64) {
        self.inBurst = false
        self.idleWhileOwed = false
        self.failures = min(self.failures + 1, 4)
        self.skips = (1 << self.failures) - 1
        self.idleSince = now
    }
}

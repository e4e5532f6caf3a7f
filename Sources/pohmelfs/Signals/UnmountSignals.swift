#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// SIGTERM, SIGINT and SIGHUP end a mount: a signal handler writes the signal's number into a
/// pipe, and a thread of its own reads it and calls `onSignal` (the self-pipe trick).
///
/// Not a Dispatch signal source: libdispatch watches signals through a signalfd, and the kernel
/// wakes every signalfd of a process for any signal the process is sent, whatever its mask. The
/// mount learns of each FUSE request from a real-time signal (`FUSEEventLoopChannel`), so
/// libdispatch's manager thread woke once per request only to find nothing for itself:
/// 87,647 of the client's 213,000 context switches during a `tar -xf` of /usr/include.
final class UnmountSignals: Sendable {
    static let numbers = [SIGTERM, SIGINT, SIGHUP]

    /// The pipe's write end, for the handler (an atomic load is async-signal-safe); -1 when
    /// no mount is listening.
    fileprivate static let writeEnd = Atomic<Int32>(-1)

    /// Installs the handlers and starts the thread; nil (and the signals left as they were)
    /// when no pipe can be made.
    init?(_ onSignal: @escaping @Sendable (Int32) -> Void) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        let readEnd = ends[0]
        Self.writeEnd.store(ends[1], ordering: .releasing)
        for number in Self.numbers {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                let descriptor = UnmountSignals.writeEnd.load(ordering: .acquiring)
                guard descriptor >= 0 else { return }
                var byte = UInt8(truncatingIfNeeded: number)
                let saved = errno
                _ = write(descriptor, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count == 1 { onSignal(Int32(byte)); continue }
                if count < 0 && errno == EINTR { continue }
                break  // the write end closed: `stop()`
            }
            close(readEnd)
        }
    }

    /// Ignores the signals again and ends the thread.
    func stop() {
        for number in Self.numbers { signal(number, SIG_IGN) }
        let descriptor = Self.writeEnd.exchange(-1, ordering: .acquiringAndReleasing)
        if descriptor >= 0 { close(descriptor) }
    }
}

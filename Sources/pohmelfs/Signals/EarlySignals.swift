#if canImport(Glibc)
import Glibc
#endif
import ServiceLifecycle
import Synchronization

/// Keeps a SIGTERM or SIGINT that arrives before the service group traps them.
///
/// `serve` binds its port before `ServiceGroup.run()` installs the signal handlers, so a
/// supervisor that sees the port open and at once sends SIGTERM (systemd, a test) used to kill
/// the process with the default action: no graceful shutdown, exit status -15. ``hold()``
/// installs a handler that only records the signal; ``EarlySignalReplay`` sends it again once
/// the group is listening (services start after the group has registered its signals).
enum EarlySignals {
    /// The first held signal's number, 0 for none. Written from the signal handler: an atomic
    /// store is async-signal-safe.
    fileprivate static let caught = Atomic<Int32>(0)

    /// Records SIGTERM and SIGINT from now until the service group replaces the handlers.
    static func hold() {
        _ = Self.caught.load(ordering: .relaxed)  // initialise the static outside the handler
        for number in [SIGTERM, SIGINT] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                _ = EarlySignals.caught.compareExchange(expected: 0, desired: number, ordering: .relaxed)
            }
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }
}

/// The first service of `serve`: raises a held early signal again, now that the group traps it,
/// then waits for the graceful shutdown like every other service.
struct EarlySignalReplay: Service {
    func run() async throws {
        let number = EarlySignals.caught.load(ordering: .relaxed)
        if number != 0 {
            kill(getpid(), number)
        }
        try? await gracefulShutdown()
    }
}

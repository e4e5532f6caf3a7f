import Foundation
import Synchronization

/// Detaching `pohmelfs mount` from the terminal only once the mount works.
///
/// Forking a process that already runs NIO or Dispatch threads is unsafe, so the command
/// instead starts itself again with `-f` in a new session (`setsid`), its standard streams on
/// /dev/null, and a pipe in `POHMELFS_READY_FD`. The child writes `READY` once FUSE INIT is
/// done, or `ERROR <message>`; the parent prints the message and exits 1, or exits 0.
///
/// Until it is ready the child dies with its parent: it watches its end of the pipe, which
/// reports an error as soon as the parent's end is closed, so a `mount` killed while it waits
/// (Ctrl-C, a timeout, SIGKILL) leaves nothing running. Once ready it lives on by itself.
enum Daemon {
    static let readyEnvironment = "POHMELFS_READY_FD"

    /// Runs in the parent: starts the detached child and waits for its verdict.
    static func spawnAndWait(arguments: [String]) -> Int32 {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return Self.report("cannot create a pipe: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, 0x80 /* POSIX_SPAWN_SETSID, glibc 2.26+ */)

        let executable = "/proc/self/exe"
        let argv = ([CommandLine.arguments[0]] + arguments + ["-f"]).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var environment = ProcessInfo.processInfo.environment
        environment[Self.readyEnvironment] = String(writeEnd)
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in envp { free(entry) } }

        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(writeEnd)
        guard spawned == 0 else {
            close(readEnd)
            return Self.report("cannot start the mount daemon: \(String(cString: strerror(spawned)))")
        }
        var message = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 512)
        // One line is the verdict (the child's watcher may hold a copy of the write end a
        // little longer, so waiting for end of file could add its polling interval).
        while !message.contains(UInt8(ascii: "\n")) {
            let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if count > 0 { message += chunk.prefix(count) } else if count == 0 || errno != EINTR { break }
        }
        close(readEnd)
        let text = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text == "READY" { return 0 }
        if text.hasPrefix("ERROR ") {
            Self.reap(child)
            return Self.report(String(text.dropFirst(6)))
        }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        return Self.report("the mount daemon exited before the mount was ready (status \(status))")
    }

    /// The daemon said it failed and is exiting: the command returns once it is gone, so that
    /// nothing of a failed mount outlives `pohmelfs mount` (a busy machine could take a moment
    /// to tear its event loops down). One that has not exited after `grace` is killed.
    private static func reap(_ child: pid_t, grace: Duration = .seconds(5)) {
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let reaped = waitpid(child, &status, WNOHANG)
            if reaped == child || (reaped < 0 && errno != EINTR) { return }
            usleep(5_000)
        }
        kill(child, SIGKILL)
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    }

    private static func report(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("pohmelfs mount: \(message)\n".utf8))
        return 1
    }
}

/// The child's side of the readiness pipe (or nothing, in a plain foreground mount).
final class ReadinessReporter: @unchecked Sendable {
    private var fd: Int32?
    /// Set once the verdict is sent: the orphan watcher stops.
    private let settled = Atomic<Bool>(false)

    init() {
        if let value = ProcessInfo.processInfo.environment[Daemon.readyEnvironment], let fd = Int32(value) {
            self.fd = fd
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            unsetenv(Daemon.readyEnvironment)
            self.watchForOrphaning(dup(fd))
        }
    }

    var isDaemon: Bool { self.fd != nil }

    /// Until the verdict is sent, SIGTERM to this process when the parent's end of the pipe
    /// closes (the parent died): before the mount exists that ends it, after, the mount's
    /// handler unmounts. Polls a copy of the write end, which reports POLLERR once no reader is
    /// left, even if the parent died before this started.
    private func watchForOrphaning(_ copy: Int32) {
        guard copy >= 0 else { return }
        Thread.detachNewThread { [self] in
            defer { close(copy) }
            var watched = pollfd(fd: copy, events: 0, revents: 0)
            while !self.settled.load(ordering: .acquiring) {
                let ready = poll(&watched, 1, 200)
                if ready > 0, watched.revents & Int16(POLLERR | POLLHUP) != 0 {
                    if !self.settled.load(ordering: .acquiring) { kill(getpid(), SIGTERM) }
                    return
                }
            }
        }
    }

    func ready() { self.send("READY\n") }

    func failed(_ message: String) { self.send("ERROR \(message)\n") }

    private func send(_ line: String) {
        guard let fd = self.fd else { return }
        self.settled.store(true, ordering: .releasing)
        var line = line
        line.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
        close(fd)
        self.fd = nil
    }
}

import CFuse3
import CLinux
import Foundation
import PohmelfsCore

/// One libfuse low-level session: created, mounted, looped, unmounted, destroyed, in that
/// order, each exactly once. All libfuse session calls of the project live here.
final class FUSESession: @unchecked Sendable {
    private let session: OpaquePointer
    let mountpoint: String
    /// Keeps the C argument strings and the operation table alive as long as the session.
    private var arguments: [UnsafeMutablePointer<CChar>?]
    private let bridge: Unmanaged<FUSEBridge>

    /// `options` become one `-o` argument for libfuse (mount options such as fsname, allow_other).
    init(options: [String], bridge: FUSEBridge, mountpoint: String) throws {
        self.mountpoint = mountpoint
        var arguments = ["pohmelfs", "-o", options.joined(separator: ",")].map { (text: String) in strdup(text) } + [nil]
        let retained = Unmanaged.passRetained(bridge)
        var operations = LowLevelOperations.make()
        let argc = Int32(arguments.count - 1)
        let created: OpaquePointer? = arguments.withUnsafeMutableBufferPointer { argv in
            var args = pohmelfs_fuse_args(argc, argv.baseAddress)
            return fuse_session_new(&args, &operations, MemoryLayout<fuse_lowlevel_ops>.size, retained.toOpaque())
        }
        guard let created else {
            retained.release()
            for argument in arguments { free(argument) }
            throw MountFailure("cannot create the FUSE session (libfuse rejected the options: \(options.joined(separator: ",")))")
        }
        self.arguments = arguments
        self.bridge = retained
        self.session = created
    }

    /// The `struct fuse_session *`, for notifications.
    var pointer: OpaquePointer { self.session }

    func mount() throws {
        guard fuse_session_mount(self.session, self.mountpoint) == 0 else {
            throw MountFailure("cannot mount at \(self.mountpoint) (is /dev/fuse available and fusermount3 installed?)")
        }
        if !FUSECustomIO.install(on: self.session) {
            self.bridge.takeUnretainedValue().logger.warning(
                "libfuse refused custom I/O: no HANDLE_KILLPRIV_V2 or DIRECT_IO_ALLOW_MMAP for this mount")
        }
    }

    /// The thread in `loop()` and whether it has returned, under `loopLock`, so `exit()` never
    /// signals a thread that has left the loop.
    private let loopLock = NSLock()
    private var loopThread: pthread_t?
    private var loopFinished = false
    /// Interrupts the loop's read of /dev/fuse (see `exit()`).
    private static let wakeSignal = SIGUSR2

    /// Serves requests until unmounted or `exit()` is called. Blocks the calling thread.
    func loop() -> Int32 {
        _ = pohmelfs_unblock_signal(Self.wakeSignal)  // Dispatch threads block signals; this one inherits that
        self.loopLock.withLock { self.loopThread = pthread_self() }
        let status = pohmelfs_fuse_session_loop(self.session)
        self.loopLock.withLock { self.loopFinished = true }
        return status
    }

    // MARK: - Serving from an event loop (`FUSEEventLoopChannel`)

    /// A duplicate of the session's /dev/fuse descriptor, for a channel that reads requests
    /// itself; closing it leaves the session's own descriptor alone. -1 on failure.
    func duplicateDeviceDescriptor() -> Int32 { dup(fuse_session_fd(self.session)) }

    /// Performs one request read from /dev/fuse (`bytes` is valid for the call only).
    func process(_ bytes: UnsafeRawBufferPointer) {
        self.bridge.takeUnretainedValue().initAmendment.observeRequest(bytes)
        pohmelfs_fuse_process(self.session, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
    }

    var hasExited: Bool { fuse_session_exited(self.session) != 0 }

    /// Called by `exit()` to stop a reader other than `loop()`.
    private var onExit: (@Sendable () -> Void)?

    /// Serves requests through `serve` (which returns when the session is done) instead of
    /// `loop()`; `exit()` calls `stop`.
    func run(stop: @escaping @Sendable () -> Void, _ serve: () async -> Int32) async -> Int32 {
        self.loopLock.withLock { self.onExit = stop }
        let status = await serve()
        self.loopLock.withLock { self.loopFinished = true }
        return status
    }

    /// Ends the loop from any thread: marks the session exited and detaches the mount, which
    /// wakes the loop's blocked read of /dev/fuse at once (FIELD-NOTES: signals alone do not)
    /// when the filesystem goes with it. While a file on it is still open (or a process has its
    /// working directory there), the detached filesystem and its connection live on and the
    /// read stays blocked: so the loop's thread is also signalled (no SA_RESTART, the read
    /// returns EINTR and libfuse sees the session exited) until the loop has returned.
    func exit() {
        fuse_session_exit(self.session)
        _ = pohmelfs_umount2(self.mountpoint, POHMELFS_MNT_DETACH)
        if let stop = self.loopLock.withLock({ self.onExit }) { return stop() }
        _ = pohmelfs_install_interrupt_handler(Self.wakeSignal)
        Thread.detachNewThread { [self] in
            while self.signalLoopUnlessFinished() { usleep(50_000) }
        }
    }

    private func signalLoopUnlessFinished() -> Bool {
        self.loopLock.withLock {
            guard !self.loopFinished else { return false }
            if let thread = self.loopThread { _ = pthread_kill(thread, Self.wakeSignal) }
            return true
        }
    }

    /// After the loop returned and every request has been answered.
    func unmountAndDestroy() {
        fuse_session_unmount(self.session)
        fuse_session_destroy(self.session)
        self.bridge.release()
        for argument in self.arguments { free(argument) }
        self.arguments = []
    }
}

/// A mount failure with the one-line message the user sees.
struct MountFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

import Logging
import NIOCore
import Synchronization

/// The answer to one FUSE request, given exactly once (STYLE guideline 7).
///
/// Each operation receives a subclass that offers only the replies valid for it. Replying
/// claims the request; a second reply is a programming error (it traps in debug builds and is
/// dropped in release builds). A reply object dropped without an answer logs at error level
/// and answers EIO, so no request can be left hanging in the kernel.
///
/// Interrupts: `interrupt()` answers EINTR if nothing has answered yet; a network reply that
/// arrives afterwards is dropped silently (that is the interrupt winning the race, not a double
/// reply).
///
/// Reply objects are `final class`es with an atomic state rather than `~Copyable` values
/// because they cross escaping completion closures of the client library.
public class Reply: @unchecked Sendable {
    private enum Status: UInt8 {
        case pending = 0
        case answered = 1
        case interrupted = 2
    }

    let sink: any ReplySink
    private let status = Atomic<UInt8>(Status.pending.rawValue)
    /// Run once if the request is interrupted (to cancel server-side work); see `onInterrupt`.
    private let interruptAction = Mutex<StoredCallback<Void>?>(nil)
    private let operation: StaticString
    private let logger: Logger

    public init(sink: any ReplySink, operation: StaticString, logger: Logger) {
        self.sink = sink
        self.operation = operation
        self.logger = logger
    }

    deinit {
        if self.status.load(ordering: .acquiring) == Status.pending.rawValue {
            self.logger.error("FUSE request dropped without a reply; answering EIO", metadata: ["operation": "\(self.operation)"])
            self.sink.replyError(.io)
        }
    }

    /// Claims the right to answer; false when the request was interrupted already.
    final func claim() -> Bool {
        let (exchanged, original) = self.status.compareExchange(
            expected: Status.pending.rawValue, desired: Status.answered.rawValue, ordering: .acquiringAndReleasing)
        if exchanged { return true }
        assert(original == Status.interrupted.rawValue, "FUSE request \(self.operation) answered twice")
        return false
    }

    /// Answers with an errno.
    public final func error(_ errno: Errno) {
        if self.claim() { self.sink.replyError(errno) }
    }

    /// Answers with the errno that stands for `error` (see `Errno(clientFailure:)`).
    public final func fail(_ error: any Error) {
        self.error(Errno(clientFailure: error))
    }

    /// The kernel interrupted the request: answer EINTR unless an answer already went out.
    public final func interrupt() {
        let (exchanged, _) = self.status.compareExchange(
            expected: Status.pending.rawValue, desired: Status.interrupted.rawValue, ordering: .acquiringAndReleasing)
        if exchanged {
            self.sink.replyError(.interrupted)
            self.runInterruptActionOnce()
        }
    }

    /// Registers what to do if the request is interrupted after this call (for example, cancel
    /// a blocked lock request on the server). Runs at once if it was interrupted already.
    public final func onInterrupt(_ action: @escaping @Sendable () -> Void) {
        let stored = StoredCallback<Void> { _ in action() }
        self.interruptAction.withLock { $0 = stored }
        if self.status.load(ordering: .acquiring) == Status.interrupted.rawValue {
            self.runInterruptActionOnce()
        }
    }

    /// Takes the registered interrupt action out of its lock and runs it outside: whichever of
    /// `interrupt()` and `onInterrupt(_:)` comes second runs it, and only once.
    private func runInterruptActionOnce() {
        let action = self.interruptAction.withLock { action in
            defer { action = nil }
            return action
        }
        action?.call(())
    }

    public final var isAnswered: Bool { self.status.load(ordering: .acquiring) != Status.pending.rawValue }
}

/// LOOKUP, MKNOD, MKDIR, SYMLINK, LINK: an entry or an error.
public final class EntryReply: Reply, @unchecked Sendable {
    public func entry(_ entry: EntryParameters) { if self.claim() { self.sink.replyEntry(entry) } }
}

/// CREATE: an entry plus an open file, or an error.
public final class CreateReply: Reply, @unchecked Sendable {
    public func created(_ entry: EntryParameters, _ open: OpenParameters) {
        if self.claim() { self.sink.replyCreate(entry, open) }
    }
}

/// GETATTR, SETATTR: attributes or an error.
public final class AttributesReply: Reply, @unchecked Sendable {
    public func attributes(_ attributes: FileAttributes, timeout: Double) {
        if self.claim() { self.sink.replyAttributes(attributes, timeout: timeout) }
    }
}

/// OPEN, OPENDIR: an open file or an error.
public final class OpenReply: Reply, @unchecked Sendable {
    public func opened(_ open: OpenParameters) { if self.claim() { self.sink.replyOpen(open) } }
}

/// READ: data (possibly short, at end of file) or an error.
public final class DataReply: Reply, @unchecked Sendable {
    public func data(_ data: ByteBuffer) { self.data(ByteSlices(data)) }
    public func data(_ data: ByteSlices) { if self.claim() { self.sink.replyData(data) } }
}

/// WRITE, COPY_FILE_RANGE: a byte count or an error.
public final class WriteReply: Reply, @unchecked Sendable {
    public func written(_ count: UInt64) { if self.claim() { self.sink.replyWrite(count) } }
}

/// Operations that answer only success or an errno (FLUSH, RELEASE, FSYNC, UNLINK, ...).
public final class EmptyReply: Reply, @unchecked Sendable {
    public func ok() { if self.claim() { self.sink.replyError(Errno(0)) } }
}

/// READLINK: the target or an error.
public final class ReadlinkReply: Reply, @unchecked Sendable {
    public func target(_ target: [UInt8]) { if self.claim() { self.sink.replyReadlink(target) } }
}

/// STATFS: statistics or an error.
public final class StatfsReply: Reply, @unchecked Sendable {
    public func statistics(_ statistics: StatfsResponse) { if self.claim() { self.sink.replyStatfs(statistics) } }
}

/// GETXATTR, LISTXATTR: the size (for a size query), the bytes, or an error.
public final class XattrReply: Reply, @unchecked Sendable {
    public func size(_ size: UInt32) { if self.claim() { self.sink.replyXattrSize(size) } }
    public func value(_ bytes: [UInt8]) { if self.claim() { self.sink.replyBytes(bytes) } }
}

/// GETLK: the conflicting lock (type F_UNLCK when none) or an error.
public final class LockReply: Reply, @unchecked Sendable {
    public func lock(_ response: GetlkResponse) { if self.claim() { self.sink.replyLock(response) } }
}

/// READDIR, READDIRPLUS: entries that fit, or an error.
public final class DirectoryReply: Reply, @unchecked Sendable {
    public func items(_ items: [DirectoryItem], plus: Bool, size: Int) {
        if self.claim() { self.sink.replyDirectory(items, plus: plus, size: size) }
    }
}

import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The files and directories this client has open on the server, by the `FileHandleID` the
/// kernel holds: what a client reopens (REOPEN) when it reconnects to a restarted server, whose
/// new session knows none of them.
///
/// Filled by watching requests go by (`tracking`): a successful OPEN, CREATE or OPENDIR adds
/// an entry before anyone learns the id; RELEASE and RELEASEDIR remove it as they are sent.
///
/// Locking: one mutex, never held while calling out.
public final class OpenFileLedger: Sendable {
    struct Entry: Sendable, Equatable {
        var handle: ObjectHandle
        /// open(2) flags without O_CREAT, O_EXCL and O_TRUNC.
        var flags: UInt32
        var caching: Bool
        var isDirectory: Bool
        /// Who opened it: the reopen is checked as them.
        var caller: Caller
    }

    private let entries = Mutex<[FileHandleID: Entry]>([:])

    public init() {}

    /// Everything open, in id order.
    var all: [(FileHandleID, Entry)] {
        self.entries.withLock { $0.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value) } }
    }

    public var count: Int { self.entries.withLock { $0.count } }

    /// The object `file` is open on; nil when it is not open (or was opened before tracking).
    func handle(of file: FileHandleID) -> ObjectHandle? {
        self.entries.withLock { $0[file]?.handle }
    }

    /// Some open file (not directory) on `handle` other than `excluded`, and who opened it:
    /// what a reclaim names.
    func someFile(on handle: ObjectHandle, excluding excluded: FileHandleID? = nil) -> (FileHandleID, Entry)? {
        self.entries.withLock { entries in
            entries.first { $0.value.handle == handle && !$0.value.isDirectory && $0.key != excluded }
                .map { ($0.key, $0.value) }
        }
    }

    func forget(_ file: FileHandleID) {
        _ = self.entries.withLock { $0.removeValue(forKey: file) }
    }

    private func record(_ file: FileHandleID, _ entry: Entry) {
        self.entries.withLock { $0[file] = entry }
    }

    private static func reopenFlags(_ flags: UInt32) -> UInt32 { flags & ~UInt32(O_CREAT | O_EXCL | O_TRUNC) }

    /// `completion`, wrapped so that the ledger follows `request` if it opens or closes something.
    func tracking<R: WireRequest>(
        _ request: R, caller: Caller, _ completion: @escaping @Sendable (Result<R.Response, any Error>) -> Void
    ) -> @Sendable (Result<R.Response, any Error>) -> Void {
        switch request {
        case let open as OpenRequest:
            let entry = Entry(
                handle: open.handle, flags: Self.reopenFlags(open.flags), caching: open.caching, isDirectory: false,
                caller: caller)
            return { result in
                if case .success(let response) = result, let opened = response as? OpenResponse {
                    self.record(opened.file, entry)
                }
                completion(result)
            }
        case let create as CreateRequest:
            return { result in
                if case .success(let response) = result, let created = response as? CreateResponse {
                    self.record(
                        created.file,
                        Entry(
                            handle: created.entry.handle, flags: Self.reopenFlags(create.flags),
                            caching: create.caching, isDirectory: false, caller: caller))
                }
                completion(result)
            }
        case let opendir as OpendirRequest:
            let entry = Entry(handle: opendir.handle, flags: 0, caching: false, isDirectory: true, caller: caller)
            return { result in
                if case .success(let response) = result, let opened = response as? OpenResponse {
                    self.record(opened.file, entry)
                }
                completion(result)
            }
        case let release as ReleaseRequest:
            self.forget(release.file)
            return completion
        case let release as ReleasedirRequest:
            self.forget(release.directory)
            return completion
        default:
            return completion
        }
    }
}

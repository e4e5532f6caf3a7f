import Synchronization

/// The staged objects of a `LocalDirectoryStore`: empty files made in advance in a directory of
/// the export's own filesystem (so a create can `renameat2` one into place), named there by a
/// counter, and which of them are still there (ConsistencyContract "Delegated directories").
///
/// The directory, `stagingName` at the export root, is hidden from clients: no name operation
/// accepts it (`LocalDirectoryStore.validated`), LOOKUP answers ENOENT and READDIR skips it.
final class StagingArea: Sendable {
    /// The staging directory's name at the export root; reserved everywhere.
    static let name: FileName = ".pohmelfs-staging"
    private let state = Mutex<(next: UInt64, names: [ObjectHandle: FileName])>((1, [:]))

    /// A fresh name for the next staged file.
    func nextName() -> FileName {
        self.state.withLock { state in
            defer { state.next += 1 }
            return FileName("s\(state.next)")
        }
    }

    func staged(_ handle: ObjectHandle, as name: FileName) {
        self.state.withLock { $0.names[handle] = name }
    }

    /// The name of staged object `handle`, which leaves the table (put it back with `staged`
    /// when it stays); nil when it is not staged.
    func take(_ handle: ObjectHandle) -> FileName? {
        self.state.withLock { $0.names.removeValue(forKey: handle) }
    }
}

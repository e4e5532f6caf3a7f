import Synchronization

/// What the server holds for one client connection: its identity and its open files and
/// directories. Dropping the session (when the connection closes) closes all of them.
///
/// Locking: `objects` is protected by its mutex; the mutex is never held across I/O.
public final class ClientSession<Store: BackingStore>: Sendable {
    enum OpenObject {
        case file(Store.File)
        case directory(Store.Directory)
    }

    private struct OpenObjects {
        var next: UInt64 = 1
        var table: [FileHandleID: OpenObject] = [:]
    }

    public let id: SessionID
    public let peer: String
    public let clientName: String
    private let objects = Mutex(OpenObjects())

    init(id: SessionID, peer: String, clientName: String) {
        self.id = id
        self.peer = peer
        self.clientName = clientName
    }

    func register(_ object: OpenObject) -> FileHandleID {
        self.objects.withLock { objects in
            let id = FileHandleID(objects.next)
            objects.next += 1
            objects.table[id] = object
            return id
        }
    }

    /// The open file `id` names; EBADF when it names nothing or a directory.
    func file(_ id: FileHandleID) throws -> Store.File {
        guard case .file(let file)? = self.objects.withLock({ $0.table[id] }) else { throw Errno.badFileHandle }
        return file
    }

    func directory(_ id: FileHandleID) throws -> Store.Directory {
        guard case .directory(let directory)? = self.objects.withLock({ $0.table[id] }) else {
            throw Errno.badFileHandle
        }
        return directory
    }

    /// Forgets `id`; the object closes once operations still using it finish.
    func release(_ id: FileHandleID) throws {
        let removed = self.objects.withLock { $0.table.removeValue(forKey: id) }
        guard removed != nil else { throw Errno.badFileHandle }
    }

    /// Forgets everything (connection closed).
    func releaseAll() {
        let all = self.objects.withLock { objects in
            let all = objects.table
            objects.table = [:]
            return all
        }
        _ = all
    }

    var openCount: Int { self.objects.withLock { $0.table.count } }
}

import NIOCore
import Synchronization

/// What the server holds for one client session: its identity, its open files and directories,
/// the replies it may ask for again (`ReplyCache`) and the connection it is attached to.
///
/// A session outlives a dropped connection for the lock lease (`SessionTable`): a client that
/// reconnects in time resumes it (HELLO `resumeSession`) and finds everything as it left it.
/// When the lease runs out the session is dropped, closing all its files.
///
/// Locking: `objects` and `connection` are each protected by their own mutex; neither is held
/// across I/O or while the other is taken.
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
    /// What a resuming HELLO must present (256 random bits): given to the client in its HELLO
    /// reply, never shown (lock table, logs) to anyone.
    let secret: [UInt8]
    private let objects = Mutex(OpenObjects())
    /// The connection replies go to; nil while detached.
    let connection = Mutex<(any Channel)?>(nil)
    /// Replies to replay-unsafe requests, for resent copies.
    let replies = ReplyCache()
    /// The files the session cached when its connection dropped, regranted (and invalidated)
    /// when it is resumed.
    let cachedWhenDetached = Mutex<[ObjectHandle]>([])
    /// The client asked, in its latest HELLO, for the file's attributes in WRITE replies
    /// (capability `writeAttributes`).
    let wantsWriteAttributes = Atomic<Bool>(false)

    init(id: SessionID, peer: String, clientName: String) {
        self.id = id
        self.peer = peer
        self.clientName = clientName
        var generator = SystemRandomNumberGenerator()
        self.secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Whether `presented` is this session's secret, compared in constant time.
    func holdsSecret(_ presented: [UInt8]) -> Bool {
        guard presented.count == self.secret.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(presented, self.secret) { difference |= a ^ b }
        return difference == 0
    }

    func register(_ object: OpenObject) -> FileHandleID {
        self.objects.withLock { objects in
            let id = FileHandleID(objects.next)
            objects.next += 1
            objects.table[id] = object
            return id
        }
    }

    /// Registers `object` under the id the client chose (REOPEN after a server restart); later
    /// ids are allocated above it. EEXIST when `id` is taken.
    func register(_ object: OpenObject, as id: FileHandleID) throws {
        try self.objects.withLock { objects in
            guard objects.table[id] == nil else { throw Errno.exists }
            objects.table[id] = object
            objects.next = max(objects.next, id.rawValue &+ 1)
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

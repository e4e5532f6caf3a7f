import Synchronization

/// The client's open files: which node each server file handle belongs to and how it was opened.
/// READ and WRITE arrive naming the handle only; the page cache and write-back work by node.
///
/// Locking: `files` is protected by its mutex.
public final class OpenFileTable: Sendable {
    public struct OpenFile: Sendable, Equatable {
        public var node: NodeID
        public var flags: UInt32
        /// Opened without O_DIRECT, with the page cache.
        public var caching: Bool

        /// May this handle's writes be buffered? Only plain writable cached handles: O_APPEND
        /// writes land where the server's end of file is, and O_SYNC/O_DSYNC promise the bytes
        /// are on the server when write() returns.
        public var mayBufferWrites: Bool {
            let accessMode = self.flags & 0o3
            let append: UInt32 = 0o2000
            let sync: UInt32 = 0o4010000  // O_SYNC (includes O_DSYNC's bit)
            let dsync: UInt32 = 0o10000
            return self.caching && accessMode != 0 && self.flags & (append | sync | dsync) == 0
        }
    }

    private let files = Mutex<[FileHandleID: OpenFile]>([:])

    public init() {}

    func opened(_ file: FileHandleID, _ open: OpenFile) { self.files.withLock { $0[file] = open } }

    func released(_ file: FileHandleID) { self.files.withLock { $0[file] = nil } }

    public subscript(_ file: FileHandleID) -> OpenFile? { self.files.withLock { $0[file] } }
}

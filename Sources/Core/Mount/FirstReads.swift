import NIOCore
import Synchronization

/// The bytes an OPEN brought with it (`OpenResponse.firstRead`), by open file, kept for the
/// kernel's first READ of that open (ConsistencyContract "The first read of a file"): answered
/// from them only while nothing can have changed them (`DataChanges`, no reconnect, no dirty
/// write-back of the file), else the READ goes to the server. Taken once: a later READ from 0
/// asks the server.
///
/// Asked for only at a node's first open since the kernel learned it (`isFirstOpen`): the kernel
/// has no pages of it yet (a node the kernel forgot, with `drop_caches` or under memory
/// pressure, took its pages with it); a later open usually finds its pages cached, and the bytes
/// would be read for nothing.
///
/// Thread-safe: one mutex.
final class FirstReads: Sendable {
    struct FirstRead: Sendable {
        var bytes: ByteBuffer
        /// `DataChanges.now()` just before the OPEN was sent.
        var moment: UInt64
        /// `RPCClient.reconnects` then.
        var reconnects: Int

        /// The file ends within these bytes.
        var reachesEnd: Bool { self.bytes.readableBytes < OpenRequest.firstReadSize }

        /// The answer to a READ of `size` bytes from offset 0, when these bytes hold all of it.
        func answer(_ size: Int) -> ByteBuffer? {
            guard self.bytes.readableBytes >= size || self.reachesEnd else { return nil }
            return self.bytes.getSlice(at: self.bytes.readerIndex, length: min(size, self.bytes.readableBytes))
        }
    }

    private let table = Mutex<(reads: [FileHandleID: FirstRead], opened: Set<NodeID>)>(([:], []))

    func keep(_ read: FirstRead, for file: FileHandleID) { self.table.withLock { $0.reads[file] = read } }

    func take(_ file: FileHandleID) -> FirstRead? { self.table.withLock { $0.reads.removeValue(forKey: file) } }

    /// Whether this is `node`'s first open since the kernel learned it (and notes the open).
    func isFirstOpen(_ node: NodeID) -> Bool { self.table.withLock { $0.opened.insert(node).inserted } }

    /// The kernel forgot `node`, and its pages with it.
    func forget(_ node: NodeID) { _ = self.table.withLock { $0.opened.remove(node) } }
}

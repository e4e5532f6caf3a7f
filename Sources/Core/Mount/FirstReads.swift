import NIOCore
import Synchronization

/// The bytes an OPEN brought with it (`OpenResponse.firstRead`), by open file, kept for the
/// kernel's first READ of that open (ConsistencyContract "The first read of a file"): answered
/// from them only while nothing can have changed them (`DataChanges`, no reconnect, no dirty
/// write-back of the file), else the READ goes to the server. Taken once: a later READ from 0
/// asks the server.
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

    private let table = Mutex<[FileHandleID: FirstRead]>([:])

    func keep(_ read: FirstRead, for file: FileHandleID) { self.table.withLock { $0[file] = read } }

    func take(_ file: FileHandleID) -> FirstRead? { self.table.withLock { $0.removeValue(forKey: file) } }
}

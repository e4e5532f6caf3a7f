import NIOCore

/// READ answered on the connection's event loop, without the two thread hops of the pool (event
/// loop → pool thread → event loop), when nothing about it can block:
///
/// - the transaction lock of its range is free now (`LockService.withTransactionLockIfFree`);
/// - no other session holds the file's write-back grant (that needs a recall first);
/// - the store has every byte in memory (`BackingStore.readWithoutBlocking`: RWF_NOWAIT, or a
///   plain read of a file on tmpfs or ramfs).
///
/// Anything else, errors included, returns nil and the request takes the usual route on the
/// pool, which performs it from the start: the fast path never answers what the pool would
/// answer differently, it only answers sooner. The reply is the same frame the pool builds.
extension RequestRouter {
    /// Why the event loop gave up: the bytes need I/O.
    private struct NotInMemory: Error {}

    public func readOnEventLoop(_ payload: ByteBuffer, _ context: RequestContext<Store>) -> ByteBuffer? {
        guard let request = try? ReadRequest.decode(payload: payload), request.size <= self.maximumTransaction,
            let file = try? context.session.file(request.file)
        else { return nil }
        let handle = self.store.objectHandle(of: file)
        guard !self.coherence.grantHeld(handle, byOtherThan: context.session.id) else { return nil }
        let store = self.store
        let size = Int(request.size)
        let header = MessageHeader(flags: .reply, opcode: .read, transaction: context.transaction)
        do {
            return try self.locks.withTransactionLockIfFree(
                file: handle, session: context.session.id, transaction: context.transaction,
                mode: .shared, offset: request.offset, length: size
            ) {
                try FrameEncoding.frame(header: header, allocator: context.allocator, capacity: size + 4) { buffer in
                    let lengthIndex = buffer.writerIndex
                    buffer.writeWire(UInt32(0))
                    guard try store.readWithoutBlocking(file, offset: request.offset, size: size, into: &buffer) else {
                        throw NotInMemory()
                    }
                    buffer.setInteger(UInt32(buffer.writerIndex - lengthIndex - 4), at: lengthIndex, endianness: .little)
                }
            }
        } catch {
            return nil
        }
    }

    /// The first read of an OPEN performed on the event loop (`EventLoopRequests`): the same read
    /// under the same lock as on the pool, when the lock is free and the store has the bytes in
    /// memory; otherwise `.notRead`, and the client reads them with a READ as it would from a
    /// server without the `firstRead` capability. The OPEN then never waits for the disk or for
    /// another transaction on the event loop, and a file whose first bytes are cached (the usual
    /// case for a tree that was just written or read) is opened without the pool's two thread
    /// hand-offs.
    static func firstReadWithoutBlocking(
        _ store: Store, _ locks: LockService, _ file: Store.File, _ handle: ObjectHandle, size: Int,
        _ context: RequestContext<Store>
    ) -> OpenResponse.FirstRead {
        let bytes = try? locks.withTransactionLockIfFree(
            file: handle, session: context.session.id, transaction: context.transaction, mode: .shared, offset: 0,
            length: size
        ) { () -> ByteBuffer? in
            var bytes = context.allocator.buffer(capacity: size)
            return try store.readWithoutBlocking(file, offset: 0, size: size, into: &bytes) ? bytes : nil
        }
        guard let bytes = bytes ?? nil else { return .notRead }
        return .bytes(bytes)
    }
}

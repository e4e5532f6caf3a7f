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
}

import NIOCore

/// OPEN, and the first read it may bring (capability `firstRead`).
///
/// With the local store an OPEN runs on the connection's event loop (`EventLoopRequests`). Its
/// first read is done there too when nothing about it can wait: the transaction lock of the
/// range is free and the store has the bytes in memory (`BackingStore.readWithoutBlocking`, as
/// a READ on the event loop). Otherwise the file is opened there and the read goes to the
/// server's I/O pool (`RequestContext.offload`, bounded by `--io-threads` as a READ there is),
/// which answers the OPEN with the bytes once it has them: the reply is the same either way,
/// and a file whose first bytes are cached (a tree just written or read) is opened without the
/// two thread hand-offs every such OPEN cost on the pool (23,982 `futex` calls of the server
/// during a `cp -r` out of /usr/include, 8 after).
extension RequestRouter {
    mutating func registerOpen() {
        let store = self.store
        let locks = self.locks
        let coherence = self.coherence
        let maximumTransaction = self.maximumTransaction
        self.onRaw(OpenRequest.opcode) { payload, context in
            let request = try OpenRequest.decode(payload: payload)
            var opening = request
            opening.flags &= ~OpenRequest.wantsFirstRead
            let file = try store.open(opening, caller: context.caller)
            let handle = store.objectHandle(of: file)
            let valid = coherence.opened(handle, by: context.session.id, caching: request.caching)
            coherence.fileOpened(handle, by: context.session.id)
            // O_TRUNC (opened with FUSE's atomic_o_trunc) changes the size: others forget the
            // pages and attributes before the open returns. Any other open changes nothing.
            let truncates = request.flags & OpenRequest.truncating != 0
            var response = OpenResponse(file: context.session.register(.file(file)), cacheValid: valid)
            @Sendable func reply(_ response: OpenResponse) -> ByteBuffer {
                FrameEncoding.reply(
                    response, opcode: OpenRequest.opcode, transaction: context.transaction,
                    allocator: context.allocator)
            }
            if request.flags & OpenRequest.wantsFirstRead != 0 {
                // Read as a READ right after the open would be: the client is a cacher by now,
                // so a later change by another session invalidates what it keeps.
                let readable = request.flags & 0o3 != 0o1 && request.caching
                let skip = truncates || !readable || coherence.grantHeld(handle, byOtherThan: context.session.id)
                let size = min(OpenRequest.firstReadSize, Int(maximumTransaction))
                if skip {
                    response.firstRead = .notRead
                } else if !context.eventLoop.inEventLoop {
                    response.firstRead = Self.firstRead(store, locks, file, handle, size: size, context)
                } else if let bytes = Self.firstReadWithoutBlocking(store, locks, file, handle, size: size, context) {
                    response.firstRead = .bytes(bytes)
                } else {
                    // Not in memory, or its range busy: read off the loop, then answer.
                    let opened = response
                    context.offload {
                        var response = opened
                        response.firstRead = Self.firstRead(store, locks, file, handle, size: size, context)
                        context.respond(reply(response))
                    }
                    return nil
                }
            }
            let encoded = reply(response)
            guard truncates else { return encoded }
            let respond = context.respond
            let deferred = coherence.invalidate(
                handle, offset: 0, length: 0, by: context.session.id, timerLoop: context.eventLoop
            ) { respond(encoded) }
            return deferred ? nil : encoded
        }
    }

    /// The first bytes under the shared transaction lock, waiting for it and for the disk.
    private static func firstRead(
        _ store: Store, _ locks: LockService, _ file: Store.File, _ handle: ObjectHandle, size: Int,
        _ context: RequestContext<Store>
    ) -> OpenResponse.FirstRead {
        (try? locks.withTransactionLock(
            file: handle, session: context.session.id, transaction: context.transaction, mode: .shared,
            offset: 0, length: size
        ) {
            var bytes = context.allocator.buffer(capacity: size)
            try store.read(file, offset: 0, size: size, into: &bytes)
            return OpenResponse.FirstRead.bytes(bytes)
        }) ?? .notRead
    }

    /// The same read when the lock is free now and the bytes are in memory; nil otherwise.
    private static func firstReadWithoutBlocking(
        _ store: Store, _ locks: LockService, _ file: Store.File, _ handle: ObjectHandle, size: Int,
        _ context: RequestContext<Store>
    ) -> ByteBuffer? {
        let bytes = try? locks.withTransactionLockIfFree(
            file: handle, session: context.session.id, transaction: context.transaction, mode: .shared, offset: 0,
            length: size
        ) { () -> ByteBuffer? in
            var bytes = context.allocator.buffer(capacity: size)
            return try store.readWithoutBlocking(file, offset: 0, size: size, into: &bytes) ? bytes : nil
        }
        return bytes ?? nil
    }
}

import Dispatch
import NIOCore

/// Write-back grants on the request path (`CacheCoherence+Grants`): WRITEBACK_GRANT and
/// GRANT_RELEASE, and the recall that runs in front of every request that looks at or changes a
/// file's data or size while another session may hold its bytes unwritten.
extension RequestRouter {
    mutating func registerGrants() {
        let store = self.store
        let coherence = self.coherence
        self.onRaw(.writebackGrant) { payload, context in
            let request = try WritebackGrantRequest.decode(payload: payload)
            let file = store.objectHandle(of: try context.session.file(request.file))
            coherence.grant(file, to: context.session.id, timerLoop: context.eventLoop) { granted in
                context.respond(
                    FrameEncoding.reply(
                        WritebackGrantResponse(granted: granted), opcode: .writebackGrant,
                        transaction: context.transaction, allocator: context.allocator))
            }
            return nil
        }
        self.on(GrantReleaseRequest.self) { request, context in
            coherence.grantReleased(request.notice, by: context.session.id)
            return EmptyResponse()
        }
    }

    /// The files a request touches whose grant must be recalled first, read from its payload.
    typealias GrantedFiles = @Sendable (_ payload: ByteBuffer, _ context: RequestContext<Store>) throws -> [ObjectHandle]

    /// Puts the recall in front of the routes that read or change file data or attributes: when
    /// another session holds the grant of a file the request touches, the request waits (off the
    /// event loop and the thread pool) until the grant is given back or timed out, then runs.
    mutating func applyRecalls() {
        let store = self.store
        let byFile: (@escaping @Sendable (ByteBuffer) throws -> FileHandleID) -> GrantedFiles = { file in
            { payload, context in [store.objectHandle(of: try context.session.file(try file(payload)))] }
        }
        let touched: [Opcode: GrantedFiles] = [
            .open: { payload, _ in [try OpenRequest.decode(payload: payload).handle] },
            .getattr: { payload, _ in [try GetattrRequest.decode(payload: payload).handle] },
            .setattr: { payload, _ in [try SetattrRequest.decode(payload: payload).handle] },
            .read: byFile { try ReadRequest.decode(payload: $0).file },
            .write: byFile { try WriteRequest.decode(payload: $0).file },
            .append: byFile { try AppendRequest.decode(payload: $0).file },
            .fallocate: byFile { try FallocateRequest.decode(payload: $0).file },
            .copyFileRange: { payload, context in
                let request = try CopyFileRangeRequest.decode(payload: payload)
                return try [request.source, request.destination].map {
                    store.objectHandle(of: try context.session.file($0))
                }
            },
        ]
        let coherence = self.coherence
        for (opcode, files) in touched {
            guard let route = self.routes[opcode] else { continue }
            self.routes[opcode] = Self.recalling(route, opcode: opcode, files: files, coherence: coherence)
        }
    }

    /// `route`, run once no other session holds the grant of the files it touches.
    private static func recalling(
        _ route: @escaping Route, opcode: Opcode, files: @escaping GrantedFiles, coherence: CacheCoherence
    ) -> Route {
        @Sendable func run(_ payload: ByteBuffer, _ context: RequestContext<Store>) throws -> ByteBuffer? {
            for file in try files(payload, context) {
                let waiting = coherence.recallGrant(file, before: context.session.id, timerLoop: context.eventLoop) {
                    // Off the event loop (a timed-out recall finishes there). From the top: the
                    // grant may have moved again, or another file of the request may need a recall.
                    Self.runAgainOffTheLoop(run, payload, context, opcode: opcode)
                }
                if waiting { return nil }
            }
            return try route(payload, context)
        }
        return run
    }
}

extension RequestRouter {
    /// Runs `run` again from the top on a global queue (a recall's completion may come on the
    /// event loop, when it timed out) and sends its reply, or `opcode`'s error reply; `nil`
    /// means `run` parked the request again and will answer it itself.
    static func runAgainOffTheLoop(
        _ run: @escaping @Sendable (ByteBuffer, RequestContext<Store>) throws -> ByteBuffer?,
        _ payload: ByteBuffer, _ context: RequestContext<Store>, opcode: Opcode
    ) {
        DispatchQueue.global().async {
            let reply: ByteBuffer?
            do {
                reply = try run(payload, context)
            } catch {
                reply = FrameEncoding.errorReply(
                    (error as? Errno) ?? .io, opcode: opcode, transaction: context.transaction,
                    allocator: context.allocator)
            }
            if let reply { context.respond(reply) }
        }
    }
}

import Dispatch
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Delegated directories on the request path (ConsistencyContract "Delegated directories"):
/// PREALLOC, the session's ordered log (DELEG_CREATE, DELEG_UNLINK), DELEG_RETURN, and the
/// recall in front of every other session's request that touches a delegated directory.
extension RequestRouter {
    mutating func registerDelegation() {
        let store = self.store
        let coherence = self.coherence
        let delegations = coherence.delegations
        self.on(PreallocRequest.self) { request, context in
            guard store.stagesObjects, delegations.isDelegating(context.session.id) else { throw Errno(ENOSYS) }
            var objects: [StagedObject] = []
            for (entry, file) in try store.stage(count: Int(request.count)) {
                _ = coherence.opened(entry.handle, by: context.session.id, caching: true)
                coherence.fileOpened(entry.handle, by: context.session.id)
                _ = coherence.grantAtCreate(entry.handle, to: context.session.id)
                objects.append(StagedObject(entry: entry, file: context.session.register(.file(file))))
            }
            delegations.handedOut(objects.map(\.entry.handle), to: context.session.id)
            return PreallocResponse(objects: objects)
        }
        self.onLogEntry(DelegatedCreateRequest.self, seq: \.seq) { request, context in
            try delegations.checkEntry(request.parent, staged: request.staged, by: context.session.id)
            let since = coherence.leaseSequence()
            do {
                let entry = try store.applyStaged(
                    request.staged, parent: request.parent, name: request.name, mode: request.mode,
                    caller: context.caller)
                delegations.created(entry.handle, in: request.parent)
                // The holder's kernel already caches the name and the file's attributes for as
                // long as a lease lasts: from here on they are leased as a CREATE's reply is (a
                // refusal reaches the client ahead of this reply, and it makes its kernel forget).
                coherence.grantLeases(
                    directories: [request.parent], objects: [entry.handle], to: context.session.id, since: since)
                return entry
            } catch {
                delegations.putBack(request.staged, for: context.session.id)
                throw error
            }
        }
        self.onLogEntry(DelegatedUnlinkRequest.self, seq: \.seq) { request, context in
            try delegations.checkEntry(request.parent, staged: nil, by: context.session.id)
            let found = try store.lookup(LookupRequest(parent: request.parent, name: request.name), caller: context.caller)
            guard found.handle == request.expected else { throw Errno.stale }
            try store.unlink(UnlinkRequest(parent: request.parent, name: request.name), caller: context.caller)
            coherence.forget(store.takeRemovedObjects())
            return EmptyResponse()
        }
        self.onRaw(.delegationReturn) { payload, context in
            let request = try DelegationReturnRequest.decode(payload: payload)
            delegations.returned(request.directory, lastSeq: request.lastSeq, by: context.session.id) {
                context.respond(
                    FrameEncoding.reply(
                        EmptyResponse(), opcode: .delegationReturn, transaction: context.transaction,
                        allocator: context.allocator))
            }
            return nil
        }
    }

    /// Registers a log entry: performed in `seq` order per session (`DelegationTable.sequence`),
    /// answered when performed; an entry already performed is answered EALREADY.
    private mutating func onLogEntry<R: WireRequest>(
        _ type: R.Type, seq: KeyPath<R, UInt64> & Sendable,
        _ perform: @escaping @Sendable (R, RequestContext<Store>) throws -> R.Response
    ) {
        let delegations = self.coherence.delegations
        self.onRaw(R.opcode) { payload, context in
            let request = try R.decode(payload: payload)
            let session = context.session.id
            let apply: @Sendable () -> Void = {
                let reply: ByteBuffer
                do {
                    reply = FrameEncoding.reply(
                        try perform(request, context), opcode: R.opcode, transaction: context.transaction,
                        allocator: context.allocator)
                } catch {
                    reply = FrameEncoding.errorReply(
                        (error as? Errno) ?? .io, opcode: R.opcode, transaction: context.transaction,
                        allocator: context.allocator)
                }
                context.respond(reply)
            }
            switch delegations.sequence(request[keyPath: seq], of: session, apply: apply) {
            case .duplicate: throw Errno(EALREADY)
            case .parked: return nil
            case .now:
                apply()
                delegations.advance(session)
                return nil
            }
        }
    }

    /// The objects a request touches, for the recall: directories it looks in or changes, and
    /// objects it reads or changes.
    typealias DelegatedObjects = @Sendable (_ payload: ByteBuffer, _ context: RequestContext<Store>) throws -> [ObjectHandle]

    /// Puts the recall in front of every route that looks at or changes a directory's names or
    /// an object's attributes: when another session holds the delegation of one it touches, the
    /// request waits (parked, off every thread) for DELEG_RETURN or the timeout, then runs.
    mutating func applyDelegationRecalls() {
        let store = self.store
        // RMDIR and RENAME also touch the directory they remove or move (found as the server).
        let child: @Sendable (ObjectHandle, FileName) -> [ObjectHandle] = { parent, name in
            (try? store.lookup(LookupRequest(parent: parent, name: name), caller: .root)).map { [$0.handle] } ?? []
        }
        let touched: [Opcode: DelegatedObjects] = [
            .lookup: { p, _ in [try LookupRequest.decode(payload: p).parent] },
            .getattr: { p, _ in [try GetattrRequest.decode(payload: p).handle] },
            .setattr: { p, _ in [try SetattrRequest.decode(payload: p).handle] },
            .readlink: { p, _ in [try ReadlinkRequest.decode(payload: p).handle] },
            .symlink: { p, _ in [try SymlinkRequest.decode(payload: p).parent] },
            .mknod: { p, _ in [try MknodRequest.decode(payload: p).parent] },
            .mkdir: { p, _ in [try MkdirRequest.decode(payload: p).parent] },
            .unlink: { p, _ in [try UnlinkRequest.decode(payload: p).parent] },
            .rmdir: { p, _ in
                let r = try RmdirRequest.decode(payload: p)
                return [r.parent] + child(r.parent, r.name)
            },
            .rename: { p, _ in
                let r = try RenameRequest.decode(payload: p)
                return [r.oldParent, r.newParent] + child(r.oldParent, r.oldName) + child(r.newParent, r.newName)
            },
            .link: { p, _ in
                let r = try LinkRequest.decode(payload: p)
                return [r.newParent, r.target]
            },
            .access: { p, _ in [try AccessRequest.decode(payload: p).handle] },
            .open: { p, _ in [try OpenRequest.decode(payload: p).handle] },
            .create: { p, _ in [try CreateRequest.decode(payload: p).parent] },
            .opendir: { p, _ in [try OpendirRequest.decode(payload: p).handle] },
            .opendirList: { p, _ in [try OpendirListRequest.decode(payload: p).handle] },
            .setxattr: { p, _ in [try SetxattrRequest.decode(payload: p).handle] },
            .getxattr: { p, _ in [try GetxattrRequest.decode(payload: p).handle] },
            .listxattr: { p, _ in [try ListxattrRequest.decode(payload: p).handle] },
            .removexattr: { p, _ in [try RemovexattrRequest.decode(payload: p).handle] },
        ]
        let coherence = self.coherence
        for (opcode, objects) in touched {
            guard let route = self.routes[opcode] else { continue }
            self.routes[opcode] = Self.recallingDelegations(route, opcode: opcode, objects: objects, coherence: coherence)
        }
    }

    private static func recallingDelegations(
        _ route: @escaping Route, opcode: Opcode, objects: @escaping DelegatedObjects, coherence: CacheCoherence
    ) -> Route {
        let delegations = coherence.delegations
        @Sendable func run(_ payload: ByteBuffer, _ context: RequestContext<Store>) throws -> ByteBuffer? {
            guard !delegations.isIdle else { return try route(payload, context) }
            let waiting = delegations.recall(
                try objects(payload, context), before: context.session.id, coherence: coherence,
                timerLoop: context.eventLoop
            ) {
                // Off the event loop (a timed-out recall ends there), and from the top: another
                // delegation the request touches may need a recall too.
                Self.runAgainOffTheLoop(run, payload, context, opcode: opcode)
            }
            return waiting ? nil : try route(payload, context)
        }
        return run
    }
}

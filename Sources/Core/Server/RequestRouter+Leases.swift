import NIOCore

/// Leases on names and attributes on the request path (`CacheCoherence+Leases`): the routes
/// that describe names and objects grant leases on what they describe, and the routes that
/// change names or attributes break the other holders' leases before they answer.
extension RequestRouter {
    /// Runs `perform`, which reads the store, then grants the session leases on the names of
    /// `directories` and on the attributes of the objects `objects` picks from the result. A
    /// missing name (ENOENT) is leased too: the kernel caches it as a negative entry.
    static func leasing<T>(
        _ coherence: CacheCoherence, _ context: RequestContext<Store>, directories: [ObjectHandle],
        _ perform: () throws -> T, objects: (T) -> [ObjectHandle]
    ) throws -> T {
        let since = coherence.leaseSequence()
        let result: T
        do {
            result = try perform()
        } catch let error as Errno where error == .noEntry && !directories.isEmpty {
            coherence.grantLeases(directories: directories, objects: [], to: context.session.id, since: since)
            throw error
        }
        coherence.grantLeases(directories: directories, objects: objects(result), to: context.session.id, since: since)
        return result
    }

    /// Runs `perform`, a READDIR of `directory`; with `plus`, grants the session leases on the
    /// directory's names and on the attributes of every entry the reply describes, as a LOOKUP
    /// of each would (capability `listingLeases`: the client leases the entries it hands its
    /// kernel). Without `plus` the listing lease OPENDIR granted covers what is returned.
    static func leasingListing(
        _ coherence: CacheCoherence, _ context: RequestContext<Store>, _ store: Store, _ directory: Store.Directory,
        plus: Bool, _ perform: () throws -> ReaddirResponse
    ) throws -> ReaddirResponse {
        guard plus else { return try perform() }
        return try Self.leasing(coherence, context, directories: [store.objectHandle(ofDirectory: directory)], perform) {
            $0.entries.compactMap { $0.entry?.handle }
        }
    }

    /// Registers a route whose reply acknowledges a change of names or attributes: `perform`
    /// returns the reply, the names it changed and the objects whose attributes it changed
    /// (their directories are changed objects too); the reply goes out once every other holder
    /// of a lease on any of them has forgotten it.
    mutating func onLeaseChange<R: WireRequest>(
        _ type: R.Type,
        _ perform: @escaping @Sendable (R, RequestContext<Store>) throws -> (R.Response, [LeasedName], [ObjectHandle])
    ) {
        let coherence = self.coherence
        self.onRaw(R.opcode) { payload, context in
            let request = try R.decode(payload: payload)
            let (response, names, objects) = try perform(request, context)
            let reply = FrameEncoding.reply(
                response, opcode: R.opcode, transaction: context.transaction, allocator: context.allocator)
            let respond = context.respond
            let deferred = coherence.breakLeases(
                names: names, objects: objects, by: context.session.id, timerLoop: context.eventLoop
            ) { respond(reply) }
            return deferred ? nil : reply
        }
    }

    /// The object a name stands for now, when another session may hold a lease on its
    /// attributes (a removal changes its link count and ctime); nil when nobody could care or
    /// the name is not there.
    static func leasedObject(
        _ store: Store, _ coherence: CacheCoherence, _ context: RequestContext<Store>, parent: ObjectHandle,
        name: FileName
    ) -> ObjectHandle? {
        guard coherence.othersHoldLeases(than: context.session.id) else { return nil }
        return try? store.lookup(LookupRequest(parent: parent, name: name), caller: context.caller).handle
    }
}

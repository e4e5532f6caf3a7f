#if canImport(Glibc)
import Glibc
#endif

/// The requests that keep a client going across faults: PING (its heartbeat) and REOPEN (its
/// open files again, under their old ids, after a server restart).
extension RequestRouter {
    mutating func registerResilience() {
        let store = self.store
        let coherence = self.coherence
        self.on(PingRequest.self) { _, _ in EmptyResponse() }
        self.on(ReopenRequest.self) { request, context in
            if request.isDirectory {
                let directory = try store.opendir(OpendirRequest(handle: request.handle), caller: context.caller)
                try context.session.register(.directory(directory), as: request.file)
            } else {
                // The file exists and the client may hold unwritten data for it: never create,
                // never truncate again.
                let flags = request.flags & ~UInt32(O_CREAT | O_EXCL | O_TRUNC)
                let open = OpenRequest(handle: request.handle, flags: flags, caching: request.caching)
                let file = try store.open(open, caller: context.caller)
                try context.session.register(.file(file), as: request.file)
                // The client's pages of the file predate the restart: others may have changed it
                // since, so they go (a notice right before this reply) and the grant starts anew.
                if request.caching { coherence.refresh([request.handle], for: context.session.id) }
            }
            return EmptyResponse()
        }
    }
}

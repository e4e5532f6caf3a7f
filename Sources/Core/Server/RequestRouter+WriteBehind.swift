import Dispatch
import NIOCore

/// The recall in front of LOOKUP (ConsistencyContract "Write-behind of file metadata"): a
/// LOOKUP's reply describes the object it finds, whose holder may still have metadata answered
/// locally on its way (and bytes buffered). When another session holds the found object's
/// write-back grant, the LOOKUP waits for the recall, as GETATTR does (`RequestRouter+Grants`).
extension RequestRouter {
    mutating func applyLookupRecalls() {
        guard let route = self.routes[.lookup] else { return }
        let store = self.store
        let coherence = self.coherence
        @Sendable func run(_ payload: ByteBuffer, _ context: RequestContext<Store>) throws -> ByteBuffer? {
            // Only while some grant is held is the name resolved a second time.
            if coherence.anyGrantHeld(),
                let found = try? store.lookup(try LookupRequest.decode(payload: payload), caller: context.caller)
            {
                let waiting = coherence.recallGrant(
                    found.handle, before: context.session.id, timerLoop: context.eventLoop
                ) {
                    // Off the event loop (a timed-out recall finishes there); from the top.
                    Self.runAgainOffTheLoop(run, payload, context, opcode: .lookup)
                }
                if waiting { return nil }
            }
            return try route(payload, context)
        }
        self.routes[.lookup] = run
    }
}

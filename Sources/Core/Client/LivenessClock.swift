import NIOCore
import Synchronization

/// When a client last heard from its server (any reply or notice), from any thread: what the
/// heartbeat measures a connection's silence against.
final class LivenessClock: Sendable {
    private let lastHeard = Atomic<UInt64>(LivenessClock.now())

    static func now() -> UInt64 { UInt64(NIODeadline.now().uptimeNanoseconds) }

    func heard() { self.lastHeard.store(Self.now(), ordering: .relaxed) }

    /// Nanoseconds since the server was last heard.
    var silence: UInt64 { Self.now() &- self.lastHeard.load(ordering: .relaxed) }
}

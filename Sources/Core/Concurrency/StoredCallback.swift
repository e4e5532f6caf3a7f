/// A closure kept in a `Mutex`: a handler set once its owner exists and read at every event
/// (`LateBoundHandler`, `GraceTimer`, `WritebackBuffer.landedHandler`).
///
/// Why a class and not the bare closure: a closure value passed `inout` through the generic
/// `Mutex.withLock` comes back wrapped in two more reabstraction thunks every time, so each
/// read made the stored closure one level deeper, and every later call slower, deeper on the
/// stack and holding more memory than the one before (a release-build micro-benchmark: 5.6 µs
/// per call over the first 2,000 reads, 65 µs over the fifth 2,000; 48 KB more stack after
/// 1,000 reads). The mount's notice handler is read for every INVALIDATE and LEASE_BREAK, the
/// server's removal grace timer once per batch. A class reference goes through `inout`
/// unchanged.
public final class StoredCallback<Argument>: Sendable {
    public let call: @Sendable (Argument) -> Void

    public init(_ call: @escaping @Sendable (Argument) -> Void) { self.call = call }
}

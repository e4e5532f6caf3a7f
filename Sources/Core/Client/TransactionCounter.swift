import Synchronization

/// Hands out a client's transaction ids, from any thread; shared by its own requests and the
/// ones its connection sends by itself (PING, REOPEN), so no two are ever outstanding at once.
/// Id 0 is HELLO's.
final class TransactionCounter: Sendable {
    private let value = Atomic<UInt64>(1)

    func next() -> TransactionID {
        TransactionID(self.value.wrappingAdd(1, ordering: .relaxed).oldValue)
    }
}

/// Requests sent and not yet answered, by transaction id: the client's half of 9P-style tag
/// matching. A value type owned by `RPCClientHandler` on its event loop.
struct PendingTransactions<Completion> {
    private var waiting: [TransactionID: Completion] = [:]

    var count: Int { self.waiting.count }

    /// Registers a request. A transaction id already outstanding is a programming error.
    mutating func insert(_ transaction: TransactionID, _ completion: Completion) {
        let previous = self.waiting.updateValue(completion, forKey: transaction)
        precondition(previous == nil, "\(transaction) is already outstanding")
    }

    /// The completion for a reply, removed; nil when nothing waits for that id (a protocol error).
    mutating func complete(_ transaction: TransactionID) -> Completion? {
        self.waiting.removeValue(forKey: transaction)
    }

    /// Every outstanding completion, removed: to be failed when the connection dies.
    mutating func drain() -> [Completion] {
        let all = Array(self.waiting.values)
        self.waiting = [:]
        return all
    }
}

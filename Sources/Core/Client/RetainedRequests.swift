import NIOCore

/// One request the client keeps until it is answered: its encoded frame (to send again after a
/// reconnect, byte for byte, with the same transaction id) and what to do with the answer.
struct RetainedRequest: Sendable {
    var transaction: TransactionID
    var opcode: Opcode
    var frame: ByteBuffer
    var completion: OutboundRequest.Completion
    /// When it was handed to the connection, for the soft-mount timeout.
    var submitted: NIODeadline
}

/// Every request sent and not yet answered, across connections: POHMELFS's "keep every
/// transaction until it is acknowledged". A value type owned by `ResilientConnection` on its
/// event loop.
///
/// Unlike `PendingTransactions` (one connection's id matching, failed together when that
/// connection dies), a retained request survives its connection: after a reconnect it is sent
/// again, and requests are resent in transaction order, the order they were first sent in.
struct RetainedRequests {
    private var requests: [TransactionID: RetainedRequest] = [:]

    var count: Int { self.requests.count }
    var isEmpty: Bool { self.requests.isEmpty }

    /// Keeps `request`. A transaction id already retained is a programming error.
    mutating func insert(_ request: RetainedRequest) {
        let previous = self.requests.updateValue(request, forKey: request.transaction)
        precondition(previous == nil, "\(request.transaction) is already retained")
    }

    /// The request `transaction` answers, removed; nil when it is not retained (answered
    /// already, timed out, or never sent through here).
    mutating func remove(_ transaction: TransactionID) -> RetainedRequest? {
        self.requests.removeValue(forKey: transaction)
    }

    /// Every retained request in the order they were first sent (transaction ids only grow).
    var inOrder: [RetainedRequest] {
        self.requests.values.sorted { $0.transaction.rawValue < $1.transaction.rawValue }
    }

    /// The requests that have waited past `deadline(request)` by `now`, removed.
    mutating func removeExpired(now: NIODeadline, deadline: (RetainedRequest) -> NIODeadline) -> [RetainedRequest] {
        let expired = self.requests.values.filter { deadline($0) <= now }
        for request in expired { self.requests[request.transaction] = nil }
        return expired.sorted { $0.transaction.rawValue < $1.transaction.rawValue }
    }

    /// Everything, removed (the client is closing).
    mutating func removeAll() -> [RetainedRequest] {
        defer { self.requests = [:] }
        return self.inOrder
    }
}

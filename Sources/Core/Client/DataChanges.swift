import Synchronization

/// What may have changed file data on the server since a moment this client can name: every
/// request it sends that can change a file's bytes or size (WRITE, APPEND, SETATTR, FALLOCATE,
/// COPY_FILE_RANGE, CREATE, and OPEN with O_TRUNC) and every INVALIDATE or LEASE_BREAK it
/// receives (reconnects are `RPCClient.reconnects`, which `FirstReads` compares too). The first read an OPEN brought (`OpenResponse.firstRead`) answers the kernel only
/// while none of these happened since just before that OPEN was sent, and none was unanswered
/// then (ConsistencyContract "The first read of a file").
///
/// Thread-safe: atomics.
public final class DataChanges: Sendable {
    /// Bumped by every change sent or heard of.
    private let generation = Atomic<UInt64>(0)
    /// Changes sent and not yet answered: the server may apply them after a later request.
    private let unanswered = Atomic<Int>(0)

    public init() {}

    /// A moment: the generation now, or nil while a change of this client is unanswered (then
    /// nothing read from the server can be known to follow it).
    public func now() -> UInt64? {
        // `sending` counts the change unanswered before it bumps the generation: a change sent
        // while this reads either shows as unanswered or moves the generation between the loads.
        let before = self.generation.load(ordering: .acquiring)
        guard self.unanswered.load(ordering: .acquiring) == 0 else { return nil }
        let after = self.generation.load(ordering: .acquiring)
        return before == after ? after : nil
    }

    /// Whether no change happened since `moment`.
    public func unchanged(since moment: UInt64) -> Bool { self.generation.load(ordering: .acquiring) == moment }

    /// A change is being sent; `answered` must follow once its reply (or failure) arrived.
    func sending() {
        self.unanswered.add(1, ordering: .acquiringAndReleasing)
        self.generation.add(1, ordering: .acquiringAndReleasing)
    }

    func answered() { self.unanswered.subtract(1, ordering: .acquiringAndReleasing) }

    /// An INVALIDATE or LEASE_BREAK arrived.
    public func heard() { self.generation.add(1, ordering: .acquiringAndReleasing) }

    /// Whether a request with `opcode` can change file data (OPEN only with O_TRUNC: see the
    /// sender).
    static func changesData(_ opcode: Opcode) -> Bool {
        switch opcode {
        case .write, .append, .setattr, .fallocate, .copyFileRange, .create: true
        default: false
        }
    }
}

import Synchronization

/// Faults a test asks the server to commit, to prove the client survives them. Off unless
/// `pohmelfs serve --test-drop-reply-once OPCODES` (hidden) names some.
///
/// Drop-reply-once: the first request of each named opcode is performed as usual (and its reply
/// kept in the reply cache) but the reply is not sent; the connection is closed instead. The
/// client reconnects, resumes its session and resends the request, and the reply cache answers
/// it: the test then checks the change was applied exactly once.
///
/// Lease-break delay (`--test-delay-lease-break MS`): every LEASE_BREAK or INVALIDATE a change
/// waits for leaves the server that much later, as over a slow link to the holder, so that a test can run a
/// second change of the same object while the first one's break round is still under way.
///
/// Write delay (`--test-delay-writes MS`): every WRITE starts that much later (scheduled on the
/// event loop, no thread held), so requests sent after it overtake it: a test shows that the
/// client's order does not rest on the server's.
///
/// Locking: one mutex over the armed set.
public final class FaultInjection: Sendable {
    private let dropReplyOnce: Mutex<Set<Opcode>>
    /// How long each awaited LEASE_BREAK or INVALIDATE is held back before it is sent (zero: not at all).
    public let leaseBreakDelay: Duration

    /// How long each WRITE waits before it is performed (zero: not at all).
    public let writeDelayMilliseconds: Int64

    public init(dropReplyOnce: Set<Opcode> = [], leaseBreakDelay: Duration = .zero, writeDelayMilliseconds: Int64 = 0) {
        self.dropReplyOnce = Mutex(dropReplyOnce)
        self.leaseBreakDelay = leaseBreakDelay
        self.writeDelayMilliseconds = writeDelayMilliseconds
    }

    /// True once per armed opcode: the caller drops this reply and closes the connection.
    func takeDropReply(_ opcode: Opcode) -> Bool {
        self.dropReplyOnce.withLock { $0.remove(opcode) != nil }
    }

    /// Parses a comma-separated list of opcode names as the protocol logs them (`RENAME`,
    /// `write`, `create`, case-insensitive); nil names the first unknown one.
    public static func opcodes(named list: String) -> Result<Set<Opcode>, FaultInjectionError> {
        var result: Set<Opcode> = []
        for name in list.split(separator: ",").map({ $0.trimmingCharacters() }) where !name.isEmpty {
            guard let opcode = Opcode.allCases.first(where: { "\($0.descriptor.name)".lowercased() == name.lowercased() })
            else { return .failure(FaultInjectionError(name: name)) }
            result.insert(opcode)
        }
        return .success(result)
    }
}

/// An opcode name `--test-drop-reply-once` does not know.
public struct FaultInjectionError: Error, CustomStringConvertible {
    public var name: String
    public var description: String { "unknown opcode '\(self.name)'" }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

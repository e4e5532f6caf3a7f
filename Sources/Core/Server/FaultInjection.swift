import Synchronization

/// Faults a test asks the server to commit, to prove the client survives them. Off unless
/// `pohmelfs serve --test-drop-reply-once OPCODES` (hidden) names some.
///
/// Drop-reply-once: the first request of each named opcode is performed as usual (and its reply
/// kept in the reply cache) but the reply is not sent; the connection is closed instead. The
/// client reconnects, resumes its session and resends the request, and the reply cache answers
/// it: the test then checks the change was applied exactly once.
///
/// Locking: one mutex over the armed set.
public final class FaultInjection: Sendable {
    private let dropReplyOnce: Mutex<Set<Opcode>>

    public init(dropReplyOnce: Set<Opcode> = []) {
        self.dropReplyOnce = Mutex(dropReplyOnce)
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

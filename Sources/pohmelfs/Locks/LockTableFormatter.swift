import Foundation
import PohmelfsCore

/// Renders the server's lock table for people (an aligned table) and scripts (JSON).
///
/// JSON schema (stable; one object per lock, in an object with `locks` and `truncated`):
/// ```
/// { "locks": [ { "path": String, "start": Int, "end": Int | null (null = end of file),
///                "range": String ("0–EOF", "4096–8191"), "mode": "read" | "write",
///                "kind": "transaction" | "posix" | "ofd" | "flock",
///                "state": "held" | "waiting",
///                "session": Int, "client": String, "peer": String, "owner": String (hex),
///                "pid": Int | null, "blockedBy": { "session": Int, "pid": Int | null } | null,
///                "ageSeconds": Double } ],
///   "truncated": Bool }
/// ```
enum LockTableFormatter {
    static func range(_ range: WireLockRange) -> String {
        "\(range.start)–\(range.end == .max ? "EOF" : String(range.end))"
    }

    static func table(_ response: LockTableResponse) -> String {
        let header = ["PATH", "RANGE", "MODE", "KIND", "STATE", "HOLDER", "PID", "AGE"]
        var rows: [[String]] = []
        for entry in response.entries.sorted(by: Self.order) {
            var state = entry.waiting ? "waiting" : "held"
            if entry.waiting && entry.blockedBySession.rawValue != 0 {
                state += " behind session \(entry.blockedBySession.rawValue)"
                if entry.blockedByPid != 0 { state += " pid \(entry.blockedByPid)" }
            }
            rows.append([
                String(decoding: entry.path, as: UTF8.self), Self.range(entry.range),
                entry.mode == .exclusive ? "write" : "read", Self.kind(entry.kind), state,
                "session \(entry.session.rawValue) \(String(decoding: entry.client, as: UTF8.self)) (\(String(decoding: entry.peer, as: UTF8.self)))",
                entry.pid == 0 ? "-" : String(entry.pid), String(format: "%.1fs", Double(entry.ageMilliseconds) / 1000),
            ])
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        var text = ([header] + rows).map(line).joined(separator: "\n")
        if rows.isEmpty { text += "\n(no locks)" }
        if response.truncated { text += "\n(table truncated at \(LockTableResponse.maximumEntries) entries)" }
        return text
    }

    static func json(_ response: LockTableResponse) -> String {
        let locks: [[String: Any]] = response.entries.sorted(by: Self.order).map { entry in
            [
                "path": String(decoding: entry.path, as: UTF8.self),
                "start": entry.range.start,
                "end": entry.range.end == .max ? NSNull() : entry.range.end as Any,
                "range": Self.range(entry.range),
                "mode": entry.mode == .exclusive ? "write" : "read",
                "kind": Self.kind(entry.kind),
                "state": entry.waiting ? "waiting" : "held",
                "session": entry.session.rawValue,
                "client": String(decoding: entry.client, as: UTF8.self),
                "peer": String(decoding: entry.peer, as: UTF8.self),
                "owner": String(entry.owner.rawValue, radix: 16),
                "pid": entry.pid == 0 ? NSNull() : entry.pid as Any,
                "blockedBy": entry.waiting && entry.blockedBySession.rawValue != 0
                    ? ["session": entry.blockedBySession.rawValue, "pid": entry.blockedByPid == 0 ? NSNull() : entry.blockedByPid as Any]
                    : NSNull(),
                "ageSeconds": Double(entry.ageMilliseconds) / 1000,
            ]
        }
        let object: [String: Any] = ["locks": locks, "truncated": response.truncated]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func kind(_ kind: LockTableEntry.Kind) -> String {
        switch kind {
        case .transaction: "transaction"
        case .posix: "posix"
        case .ofd: "ofd"
        case .flock: "flock"
        }
    }

    private static func order(_ a: LockTableEntry, _ b: LockTableEntry) -> Bool {
        if a.path != b.path { return a.path.lexicographicallyPrecedes(b.path) }
        if a.waiting != b.waiting { return !a.waiting }
        return a.range.start < b.range.start
    }
}

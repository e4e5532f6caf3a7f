import Foundation
import PohmelfsCore

/// Renders the server's lock table for people (an aligned table that fits the terminal) and
/// scripts (JSON). Plain ASCII throughout: ranges are `0-4095` and `0-EOF`.
///
/// The table's columns: PATH, RANGE, MODE, KIND, STATE (`held`, or `waiting #SESSION`),
/// HOLDER (`#SESSION CLIENT (PEER)`: the session as its last six hex digits, enough to tell the
/// sessions of one server apart), PID, AGE. Given a width (the terminal's) that the table
/// exceeds, the holders' addresses are left out, columns are one space apart, and HOLDER, then
/// PATH, are shortened in the middle (`/very/lo...name`) until the table fits.
///
/// The JSON schema is `LocksCommand`'s `--help` text (`jsonSchema`).
enum LockTableFormatter {
    static let jsonSchema = """
        JSON (--json): {"locks": [LOCK, ...], "truncated": BOOL}, LOCK being {"path": STRING \
        (relative to the export, starting with /), "start": INT, "end": INT or null (null: to end \
        of file), "range": STRING ("0-4095", "0-EOF"), "mode": "read" or "write", "kind": \
        "transaction", "posix", "ofd" or "flock", "state": "held" or "waiting", "session": INT, \
        "client": STRING (host:mountpoint), "peer": STRING (127.0.0.1:40210, [::1]:40210), "owner": \
        STRING (hex), "pid": INT or null, "blockedBy": {"session": INT, "pid": INT or null} or null, \
        "ageSeconds": NUMBER}. Keys are sorted; slashes are not escaped.
        """

    static func range(_ range: WireLockRange) -> String {
        "\(range.start)-\(range.end == .max ? "EOF" : String(range.end))"
    }

    /// `#3f2a01`: the last six hex digits of a session, for the table.
    static func shortSession(_ session: SessionID) -> String {
        let hex = String(session.rawValue, radix: 16)
        return "#" + String(hex.suffix(6))
    }

    static let columns = ["PATH", "RANGE", "MODE", "KIND", "STATE", "HOLDER", "PID", "AGE"]

    /// The table, each line at most `width` columns when given (never narrower than what the
    /// fixed columns need): the holders' addresses go first, then long cells are shortened.
    static func table(_ response: LockTableResponse, width: Int? = nil) -> String {
        let entries = response.entries.sorted(by: Self.order)
        var rows = entries.map { Self.row($0, withPeer: true) }
        var widths = Self.naturalWidths(rows)
        var separator = "  "
        if let width, Self.total(widths, separator) > width {
            rows = entries.map { Self.row($0, withPeer: false) }
            widths = Self.naturalWidths(rows)
            separator = " "
            Self.shrink(&widths, toFit: width, separator)
        }
        func line(_ cells: [String]) -> String {
            cells.indices.map { column in
                // A holder keeps its session whole; the client gives way.
                let keep = column == 5 ? (cells[column].firstIndex(of: " ").map { cells[column][...$0].count } ?? 0) : 0
                let cell =
                    String(cells[column].prefix(keep))
                    + Self.middleTruncated(String(cells[column].dropFirst(keep)), to: max(widths[column] - keep, 0))
                return cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: separator).trimmingCharacters(in: .whitespaces)
        }
        var text = ([Self.columns] + rows).map(line).joined(separator: "\n")
        if rows.isEmpty { text += "\n(no locks)" }
        if response.truncated { text += "\n(table truncated at \(LockTableResponse.maximumEntries) entries)" }
        return text
    }

    private static func row(_ entry: LockTableEntry, withPeer: Bool) -> [String] {
        var state = entry.waiting ? "waiting" : "held"
        if entry.waiting && entry.blockedBySession.rawValue != 0 {
            state += " \(Self.shortSession(entry.blockedBySession))"
        }
        var holder = "\(Self.shortSession(entry.session)) \(String(decoding: entry.client, as: UTF8.self))"
        if withPeer { holder += " (\(String(decoding: entry.peer, as: UTF8.self)))" }
        return [
            String(decoding: entry.path, as: UTF8.self), Self.range(entry.range),
            entry.mode == .exclusive ? "write" : "read", Self.kind(entry.kind), state, holder,
            entry.pid == 0 ? "-" : String(entry.pid), String(format: "%.1fs", Double(entry.ageMilliseconds) / 1000),
        ]
    }

    private static func naturalWidths(_ rows: [[String]]) -> [Int] {
        Self.columns.indices.map { column in ([Self.columns] + rows).map { $0[column].count }.max() ?? 0 }
    }

    private static func total(_ widths: [Int], _ separator: String) -> Int {
        widths.reduce(0, +) + separator.count * (widths.count - 1)
    }

    /// The `--watch` header, after watch(1): `Every 1.0s: pohmelfs locks 127.0.0.1:7646   3 locks
    /// (2 held, 1 waiting)   04:03:11`, fitted to `width`.
    static func header(server: String, interval: Double, response: LockTableResponse?, note: String? = nil, width: Int?) -> String {
        let left = "Every \(String(format: "%.1f", interval))s: pohmelfs locks \(server)"
        var middle = note ?? ""
        if let response, note == nil {
            let waiting = response.entries.filter(\.waiting).count
            let total = response.entries.count
            middle = "\(total) lock\(total == 1 ? "" : "s") (\(total - waiting) held, \(waiting) waiting)"
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        let right = formatter.string(from: Date())
        let plain = "\(left)   \(middle)   \(right)"
        guard let width else { return plain }
        if plain.count > width {
            // Tight: single spaces, then without the "Every N s: " part.
            let tight = "\(left) \(middle) \(right)"
            if tight.count <= width { return tight }
            return String("pohmelfs locks \(server) \(middle) \(right)".prefix(width))
        }
        let room = width - left.count - right.count - middle.count
        guard room >= 6 else { return plain }
        let gap = String(repeating: " ", count: room / 2)
        return left + gap + middle + gap + String(repeating: " ", count: room - 2 * (room / 2)) + right
    }

    /// Narrows HOLDER to 16 columns, then PATH to 12, then HOLDER to its session alone.
    private static func shrink(_ widths: inout [Int], toFit width: Int, _ separator: String) {
        for (column, minimum) in [(5, 16), (0, 12), (5, 7)] {
            let excess = Self.total(widths, separator) - width
            guard excess > 0 else { return }
            widths[column] = max(minimum, widths[column] - excess)
        }
    }

    /// `text` cut to `width` characters by replacing its middle with `...`.
    static func middleTruncated(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        guard width > 3 else { return String(text.prefix(width)) }
        let keep = width - 3
        let head = (keep + 1) / 2
        return String(text.prefix(head)) + "..." + String(text.suffix(keep - head))
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
        let data =
            (try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
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

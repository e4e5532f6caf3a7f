import Foundation
import Logging

/// How `serve` and `mount` write one log event (`--log-format`).
///
/// - `text`: `2026-12-06T03:55:59+0000 info pohmelfs.serve: session established client="vm:/mnt" peer=127.0.0.1:60530`:
///   the time, the level, the logger, the message, then `key=value` pairs sorted by key. A value
///   is quoted as a JSON string literal (`\"`, `\\`, `\n`, control characters escaped) whenever it holds anything but letters, digits and
///   `.:/@+-_[]`, so every line splits into pairs unambiguously (the logfmt convention).
/// - `json`: one object per line for log shippers: `time`, `level`, `logger`, `message`, then
///   every metadata key at the top level (a key that clashes with those four is written as
///   `meta.KEY`); all values are strings.
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// Formats log events as `LogFormat` lines. Pure: no I/O, so it is tested on its own.
public struct LogLineFormatter: Sendable {
    public var format: LogFormat
    /// Include the timestamp (syslog adds its own).
    public var timestamps: Bool

    public init(format: LogFormat, timestamps: Bool = true) {
        self.format = format
        self.timestamps = timestamps
    }

    public func line(
        date: Date, level: Logger.Level, label: String, message: String, metadata: [String: String]
    ) -> String {
        switch self.format {
        case .text:
            var line = self.timestamps ? "\(Self.timestamp(date)) \(level) \(label): \(message)" : "\(label): \(message)"
            for key in metadata.keys.sorted() {
                line += " \(key)=\(Self.quotedIfNeeded(metadata[key]!))"
            }
            return line
        case .json:
            var fields: [(String, String)] = []
            if self.timestamps { fields.append(("time", Self.timestamp(date))) }
            fields += [("level", "\(level)"), ("logger", label), ("message", message)]
            let reserved: Set<String> = ["time", "level", "logger", "message"]
            for key in metadata.keys.sorted() {
                fields.append((reserved.contains(key) ? "meta.\(key)" : key, metadata[key]!))
            }
            return "{" + fields.map { "\(Self.jsonString($0.0)):\(Self.jsonString($0.1))" }.joined(separator: ",") + "}"
        }
    }

    /// Flattens swift-log metadata to strings (nested values in their usual text form).
    public static func flatten(_ metadata: Logger.Metadata) -> [String: String] {
        metadata.mapValues { value in
            switch value {
            case .string(let text): return text
            case .stringConvertible(let convertible): return convertible.description
            default: return "\(value)"
            }
        }
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", ":", "/", "@", "+", "-", "_", "[", "]": return true
            default: return false
            }
        }
        return plain ? value : Self.jsonString(value)
    }

    /// A JSON string literal; slashes are not escaped, control characters are. Also the quoted form
    /// of a text-format value, so both formats escape alike.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20:
                let hex = String(control.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

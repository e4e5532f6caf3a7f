/// A size given on the command line (`--size 1G`) and shown to people ("1.0 GiB").
///
/// Suffixes follow coreutils (`dd`, `truncate`): `K`, `M`, `G`, `T` and `KiB` ... `TiB` are powers
/// of 1024; `KB`, `MB`, `GB`, `TB` are powers of 1000. No suffix (or `B`) means bytes. Case is
/// ignored, and a decimal point is allowed (`1.5G`).
public struct ByteCount: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: Int

    public init(_ bytes: Int) {
        self.bytes = bytes
    }

    /// Parses "1G", "512MiB", "4096", "1.5GB"; nil for anything else or a negative size.
    public init?(parsing text: String) {
        let trimmed = text.trimmingWhitespace()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        let suffix = trimmed.dropFirst(digits.count).lowercased()
        guard !digits.isEmpty, let number = Double(digits), number.isFinite, number >= 0 else { return nil }
        let multiplier: Double
        switch suffix {
        case "", "b": multiplier = 1
        case "k", "kib": multiplier = 1024
        case "m", "mib": multiplier = 1024 * 1024
        case "g", "gib": multiplier = 1024 * 1024 * 1024
        case "t", "tib": multiplier = 1024 * 1024 * 1024 * 1024
        case "kb": multiplier = 1e3
        case "mb": multiplier = 1e6
        case "gb": multiplier = 1e9
        case "tb": multiplier = 1e12
        default: return nil
        }
        let bytes = (number * multiplier).rounded()
        guard bytes < Double(Int.max) else { return nil }
        self.bytes = Int(bytes)
    }

    public static func < (lhs: ByteCount, rhs: ByteCount) -> Bool { lhs.bytes < rhs.bytes }

    /// "0 B", "512 B", "4.0 KiB", "93.1 MiB", "1.0 GiB".
    public var description: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(self.bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(self.bytes) B" }
        return "\(FigureFormat.fixed(value, decimals: value < 10 ? 1 : (value < 100 ? 1 : 0))) \(units[unit])"
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines (Foundation-free).
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = self.firstIndex(where: { !isSpace($0) }), let last = self.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}

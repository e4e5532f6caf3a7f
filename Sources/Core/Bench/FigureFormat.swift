/// Number formatting for the table and the chart, without Foundation: thousands separators,
/// about three significant digits, and ratios as "0.33×".
public enum FigureFormat {
    /// `value` with exactly `decimals` digits after the point ("3.14"), rounded half away from zero.
    public static func fixed(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e15 else { return String(value) }
        let whole = Int(scaled) / Int(scale)
        let fraction = Int(scaled) % Int(scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        var text = sign + Self.grouped(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }

    /// A measured figure at a sensible precision: "60,700", "353", "21.7", "4.51", "0.042".
    public static func figure(_ value: Double) -> String {
        let magnitude = abs(value)
        switch magnitude {
        case 100...: return Self.fixed(value, decimals: 0)
        case 10..<100: return Self.fixed(value, decimals: 1)
        case 0.1..<10: return Self.fixed(value, decimals: 2)
        case 0: return "0"
        default: return Self.fixed(value, decimals: 3)
        }
    }

    /// A count (reads, writes): whole numbers grouped ("3,750"); a median between two counts
    /// keeps its half ("74.5").
    public static func count(_ value: Double) -> String {
        value == value.rounded() ? Self.fixed(value, decimals: 0) : Self.fixed(value, decimals: 1)
    }

    /// A ratio to the first target: "1.00×", "0.33×", "12.4×", "305×".
    public static func ratio(_ value: Double) -> String {
        let magnitude = abs(value)
        let text: String
        switch magnitude {
        case 100...: text = Self.fixed(value, decimals: 0)
        case 10..<100: text = Self.fixed(value, decimals: 1)
        case 0.01..<10: text = Self.fixed(value, decimals: 2)
        default: text = Self.fixed(value, decimals: 3)
        }
        return text + "×"
    }

    /// 1234567 → "1,234,567".
    static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }
}

import FoundationEssentials

extension BenchReport {
    /// The report as pretty-printed JSON with sorted keys (stable for diffs), ending in a newline.
    public func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Decodes a report written by ``jsonText()``.
    public init(jsonText: String) throws {
        self = try JSONDecoder().decode(BenchReport.self, from: Data(jsonText.utf8))
    }
}

import ArgumentParser
import Foundation

/// A command line that cannot run (unknown option, bad value, missing argument) is one line on
/// standard error and exit status 2, the convention of getopt-based tools:
///
///     pohmelfs serve: missing expected argument '--export <export>' (see 'pohmelfs serve --help')
///
/// Failures at run time (an unreachable server, a busy mountpoint) are one line too, with exit
/// status 1 (`fail`). swift-argument-parser's own report of a usage error spans several lines
/// (the message, a list of values, the usage) and exits 64; this replaces it.
enum UsageError {
    static let exitStatus: Int32 = 2

    /// Prints `error` as one line for `command` ("serve", or nil for the root command) and
    /// returns the exit status.
    static func report(_ message: String, command: String?) -> Int32 {
        let name = command.map { "pohmelfs \($0)" } ?? "pohmelfs"
        var line = "\(name): \(Self.oneLine(message)) (see '\(name) --help')\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        return Self.exitStatus
    }

    /// Folds argument-parser's message into one line: a list of allowed values becomes
    /// "one of: a, b, c"; usage and help lines are dropped; the first letter is lowercased.
    static func oneLine(_ message: String) -> String {
        var text = ""
        var values: [String] = []
        for raw in message.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("Usage:") || line.hasPrefix("Help:") || line.hasPrefix("See '") { continue }
            if line.hasPrefix("- ") {
                values.append(String(line.dropFirst(2)))
            } else {
                text += (text.isEmpty ? "" : " ") + line
            }
        }
        if !values.isEmpty {
            text = text.replacingOccurrences(of: " Please provide one of the following:", with: "")
            if text.hasSuffix(".") { text.removeLast() }
            text += "; expected one of: " + values.joined(separator: ", ")
        }
        if text.hasPrefix("Error: ") { text.removeFirst(7) }
        if let first = text.first, first.isUppercase, !text.dropFirst().prefix(1).allSatisfy(\.isUppercase) {
            text = first.lowercased() + text.dropFirst()
        }
        return text
    }
}

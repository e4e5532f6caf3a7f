import ArgumentParser
import Foundation
import Logging
import PohmelfsCore

/// `--log-level`, `--log-file` and `--log-format`, shared by `serve` and `mount`.
///
/// Where the log goes: `--log-file PATH` when given (appended to); otherwise standard error,
/// except for a mount that has detached from the terminal (no `-f`), whose standard error is
/// /dev/null: it logs to syslog(3) as `pohmelfs-mount` (the journal, where there is one).
struct LoggingOptions: ParsableArguments {
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Append the log to this file instead of standard error (a background mount without it logs to syslog).",
            valueName: "path"), completion: .file())
    var logFile: String?

    @Option(name: .long, help: "Log line format: text (key=value pairs, quoted where needed) or json (one object per line).")
    var logFormat: LogFormat = .text

    /// Bootstraps swift-log once and returns the logger for `label`; throws `LogSetupError`
    /// when the log file cannot be opened. `detached`: standard error goes nowhere.
    func makeLogger(label: String, detached: Bool = false) throws -> Logger {
        let destination: LogDestination
        if let path = self.logFile {
            destination = try LogDestination.file(path)
        } else if detached {
            destination = LogDestination.syslog(identifier: label.replacingOccurrences(of: ".", with: "-"))
        } else {
            destination = LogDestination.standardError
        }
        let level = self.logLevel
        let format = self.logFormat
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, level: level, format: format, destination: destination)
        }
        return Logger(label: label)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

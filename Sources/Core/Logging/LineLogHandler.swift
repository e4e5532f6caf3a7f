import Foundation
import Logging
import Synchronization

/// Where `serve` and `mount` send their log: standard error (the default; systemd's journal
/// when run as a unit), a file (`--log-file PATH`, appended to, created 0640), or syslog(3)
/// (a mount that has detached from its terminal and has no log file: facility daemon,
/// identifier `pohmelfs-mount`, with the pid).
public final class LogDestination: Sendable {
    private enum Kind {
        case descriptor(Int32)
        case syslog
    }

    private let kind: Kind
    /// Serializes writes so lines from different threads never interleave.
    private let writing = Mutex(())

    private init(_ kind: Kind) { self.kind = kind }

    public static let standardError = LogDestination(.descriptor(2))

    /// Opens `path` for appending; throws `LogSetupError` naming the path and the reason.
    public static func file(_ path: String) throws -> LogDestination {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw LogSetupError(message: "cannot open log file \(path): \(Errno.current)")
        }
        return LogDestination(.descriptor(fd))
    }

    /// syslog(3) under `identifier` (kept for the life of the process, as openlog requires).
    public static func syslog(identifier: String) -> LogDestination {
        openlog(strdup(identifier), LOG_PID | LOG_NDELAY, LOG_DAEMON)
        return LogDestination(.syslog)
    }

    /// Whether lines need their own timestamp (syslog stamps them itself).
    var stampsLines: Bool {
        if case .syslog = self.kind { return false }
        return true
    }

    func write(_ line: String, level: Logger.Level) {
        self.writing.withLock { _ in
            switch self.kind {
            case .descriptor(let fd):
                var text = line + "\n"
                text.withUTF8 { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                        if written < 0, errno == EINTR { continue }
                        if written <= 0 { return }
                        offset += written
                    }
                }
            case .syslog:
                withVaList([line]) { vsyslog(Self.priority(level), "%s", $0) }
            }
        }
    }

    private static func priority(_ level: Logger.Level) -> Int32 {
        switch level {
        case .trace, .debug: return LOG_DEBUG
        case .info: return LOG_INFO
        case .notice: return LOG_NOTICE
        case .warning: return LOG_WARNING
        case .error: return LOG_ERR
        case .critical: return LOG_CRIT
        }
    }
}

/// A log destination that cannot be used, in one line.
public struct LogSetupError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { self.message }
}

/// swift-log's handler for `serve` and `mount`: one `LogLineFormatter` line per event, sent to
/// one `LogDestination`.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let formatter: LogLineFormatter
    private let destination: LogDestination

    public init(label: String, level: Logger.Level, format: LogFormat, destination: LogDestination) {
        self.label = label
        self.logLevel = level
        self.formatter = LogLineFormatter(format: format, timestamps: destination.stampsLines)
        self.destination = destination
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = self.formatter.line(
            date: Date(), level: event.level, label: self.label, message: "\(event.message)",
            metadata: LogLineFormatter.flatten(merged))
        self.destination.write(line, level: event.level)
    }
}

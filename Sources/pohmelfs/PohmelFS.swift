import ArgumentParser
import Foundation
import PohmelfsCore

/// The `pohmelfs` command: one binary, one subcommand per role.
@main
struct PohmelFS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pohmelfs",
        abstract: "A network filesystem with a coherent client cache and atomic overlapping writes.",
        discussion: """
            pohmelfs serve exports a directory over TCP; pohmelfs mount mounts it with FUSE, also through \
            mount(8) and /etc/fstab as type fuse.pohmelfs (/sbin/mount.fuse.pohmelfs); pohmelfs locks shows a \
            server's live lock table; pohmelfs bench compares copy workloads across directories. Under \
            systemd, pohmelfs-server.service runs the server, configured in /etc/default/pohmelfs, and \
            pohmelfs-mount@.service mounts one export per instance. serve and mount log to standard error, one \
            line per event (--log-level). Each subcommand has its own page: pohmelfs-serve(1), \
            pohmelfs-mount(1), pohmelfs-locks(1), pohmelfs-bench(1). Exit status: 0 on success, 1 when the \
            command fails (one line on standard error says why), 2 when the command line is wrong (one line \
            naming the bad value).
            """,
        version: BuildInfo.version,
        subcommands: [ServeCommand.self, MountCommand.self, StatusCommand.self, LocksCommand.self, BenchCommand.self]
    )

    /// Parses and runs, reporting a command line that cannot run as one line with exit status 2
    /// (`UsageError`) instead of argument-parser's multi-line report.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let subcommand = arguments.first { name in Self.configuration.subcommands.contains { $0._commandName == name } }
        var command: any ParsableCommand
        do {
            command = try Self.parseAsRoot(arguments)
        } catch {
            Self.exitOnParseError(error, subcommand: subcommand)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            Self.exitOnParseError(error, subcommand: subcommand)
        }
    }

    private static func exitOnParseError(_ error: any Error, subcommand: String?) -> Never {
        if Self.exitCode(for: error) == .validationFailure {
            Self.exit(withError: ExitCode(UsageError.report(Self.message(for: error), command: subcommand)))
        }
        Self.exit(withError: error)
    }
}

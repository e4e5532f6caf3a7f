import ArgumentParser

/// The `pohmelfs` command: one binary, one subcommand per role.
@main
struct PohmelFS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pohmelfs",
        abstract: "A network filesystem with a coherent client cache and atomic overlapping writes.",
        version: "0.1.0",
        subcommands: [ServeCommand.self, MountCommand.self, LocksCommand.self, BenchCommand.self]
    )
}

import ArgumentParser

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
            pohmelfs-mount(1), pohmelfs-locks(1), pohmelfs-bench(1).
            """,
        version: "0.1.0",
        subcommands: [ServeCommand.self, MountCommand.self, LocksCommand.self, BenchCommand.self]
    )
}

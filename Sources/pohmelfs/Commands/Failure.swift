import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Prints `pohmelfs <command>: <message>` on standard error and exits 1: the one-line error
/// every subcommand gives for a failure the user can act on.
func fail(_ command: String, _ message: String) -> ExitCode {
    var line = "pohmelfs \(command): \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    return ExitCode(1)
}

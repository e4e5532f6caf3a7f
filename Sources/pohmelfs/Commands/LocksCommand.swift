import ArgumentParser
import Foundation
import NIOPosix
import PohmelfsCore

/// `pohmelfs locks`: the server's live lock table.
struct LocksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locks",
        abstract: "Show a server's live lock table: held and waiting locks with their holders.",
        discussion: "Columns: file path, byte range, mode, kind (transaction, posix, ofd, flock), held or waiting (and behind whom), holder (session, client, address), pid, age. A server started with --tls-dir answers only clients that authenticate: pass --tls-dir with the client bundle."
    )

    @Argument(help: "HOST[:PORT] of the server (default port \(ProtocolVersion.defaultPort)).")
    var server: String

    @Flag(name: .long, help: "Print JSON (schema in the README) instead of a table.")
    var json = false

    @Flag(name: .long, help: "Refresh every --interval seconds until interrupted.")
    var watch = false

    @Option(name: .long, help: "Seconds between refreshes with --watch.")
    var interval: Double = 1

    @Option(name: .long, help: "Only locks on files whose path (relative to the export) starts with this.")
    var path: String?

    @Option(name: .long, help: ArgumentHelp("Connect with TLS and authenticate with the client bundle in this directory (as mount -o tls_dir=).", valueName: "dir"))
    var tlsDir: String?

    func validate() throws {
        guard ServerAddress(parsing: self.server) != nil else {
            if let meant = ServerAddress.bracketedSuggestion(for: self.server) {
                throw ValidationError("'\(self.server)' is ambiguous: write an IPv6 address with a port in brackets, as in \(meant)")
            }
            throw ValidationError("'\(self.server)' is not HOST[:PORT]")
        }
        guard self.interval > 0 else { throw ValidationError("--interval must be positive") }
    }

    func run() async throws {
        let address = ServerAddress(parsing: self.server)!
        let client: RPCClient
        do {
            let security = try self.tlsDir.map { try ClientSecurity(directory: TLSDirectory($0)) }
            client = try await RPCClient.connect(
                host: address.host, port: address.port, clientName: "pohmelfs locks",
                group: MultiThreadedEventLoopGroup.singleton, security: security)
        } catch {
            throw fail("locks", "\(error)")
        }
        defer { Task { await client.close() } }
        var prefix = Array((self.path ?? "").utf8)
        if !prefix.isEmpty && prefix.first != UInt8(ascii: "/") { prefix.insert(UInt8(ascii: "/"), at: 0) }
        repeat {
            let table: LockTableResponse
            do {
                table = try await client.call(LockTableRequest(pathPrefix: prefix))
            } catch {
                throw fail("locks", "\(address): \(error)")
            }
            let text = self.json ? LockTableFormatter.json(table) : LockTableFormatter.table(table)
            if self.watch && !self.json && isatty(1) != 0 { print("\u{1B}[H\u{1B}[2J", terminator: "") }
            print(text)
            // Out through the pipe now: stdout is fully buffered when it is not a terminal, and
            // `--watch` ends by signal, which would discard the buffer (nil: every stream, since the
            // `stdout` global is off limits under strict concurrency).
            fflush(nil)
            if self.watch { try await Task.sleep(for: .milliseconds(Int64(self.interval * 1000))) }
        } while self.watch
    }
}

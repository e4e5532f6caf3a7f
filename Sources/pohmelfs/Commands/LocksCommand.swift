import ArgumentParser
import Foundation
import NIOPosix
import PohmelfsCore

/// `pohmelfs locks`: the server's live lock table.
struct LocksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locks",
        abstract: "Show a server's live lock table: held and waiting locks with their holders.",
        discussion: """
            Columns: file path, byte range (0-4095, 0-EOF), mode, kind (transaction, posix, ofd, flock), \
            held or waiting (and on which session: waiting #SESSION), holder (#SESSION, the session's last six hex \
            digits, then client and address), pid, age. On a terminal the table fits its width: long paths \
            and holders are shortened in the middle. --watch redraws it every --interval seconds under a \
            header with the server, the counts and the time, and keeps reconnecting when the server goes \
            away (saying so once on standard error). A server started with --tls-dir answers only clients \
            that authenticate: pass --tls-dir with the client bundle.

            \(LockTableFormatter.jsonSchema)
            """
    )

    @Argument(help: "HOST[:PORT] of the server (default port \(ProtocolVersion.defaultPort)).")
    var server: String

    @Flag(name: .long, help: "Print JSON (schema below) instead of a table.")
    var json = false

    @Flag(name: .long, help: "Refresh every --interval seconds until interrupted.")
    var watch = false

    @Option(name: .long, help: "Seconds between refreshes with --watch.")
    var interval: Double = 1

    @Option(name: .long, help: "Only locks on files whose path (relative to the export) starts with this.")
    var path: String?

    @Option(name: .long, help: ArgumentHelp("Connect with TLS and authenticate with the client bundle in this directory (as mount -o tls_dir=).", valueName: "dir"), completion: .directory)
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
        let security: ClientSecurity?
        do {
            security = try self.tlsDir.map { try ClientSecurity(directory: TLSDirectory($0)) }
        } catch {
            throw fail("locks", "\(error)")
        }
        let connect = {
            try await RPCClient.connect(
                servers: [ServerAddress(host: address.host, port: address.port)], clientName: "pohmelfs locks",
                group: MultiThreadedEventLoopGroup.singleton, security: security)
        }
        var client: RPCClient?
        do {
            client = try await connect()
        } catch {
            throw fail("locks", "\(error)")
        }
        defer { if let client { Task { await client.close() } } }
        if client?.hello.capabilities.contains(.sharedStore) == true {
            // Said on standard error (as `say` does), so --json output stays as it is.
            _ = Self.say(
                "pohmelfs locks: \(address) shares its export with other servers (CephFS): only the locks held "
                    + "through this server are listed; locks held through the others conflict but are not shown")
        }
        var prefix = Array((self.path ?? "").utf8)
        if !prefix.isEmpty && prefix.first != UInt8(ascii: "/") { prefix.insert(UInt8(ascii: "/"), at: 0) }
        let terminal = isatty(1) != 0
        // Since when the server has not answered, while watching: the watch goes on, reconnecting.
        var lostSince: Date?
        repeat {
            let width = Self.terminalWidth(terminal: terminal)
            var table: LockTableResponse?
            var problem: String?
            do {
                if client == nil { client = try await connect() }
                table = try await client!.call(LockTableRequest(pathPrefix: prefix))
            } catch {
                guard self.watch else { throw fail("locks", "\(address): \(error)") }
                if let lost = client {
                    client = nil
                    await lost.close()
                }
                problem = "\(error)"
            }
            if let problem {
                if lostSince == nil {
                    lostSince = Date()
                    // Said once per outage on standard error, so a log of the watch shows it.
                    _ = fail("locks", "\(address) not answering (\(problem)); reconnecting every \(self.interval) s")
                }
                if terminal && !self.json {
                    let since = Int(Date().timeIntervalSince(lostSince!))
                    print("\u{1B}[H\u{1B}[2J", terminator: "")
                    print(LockTableFormatter.header(
                        server: "\(address)", interval: self.interval, response: nil,
                        note: "not answering for \(since) s, reconnecting", width: width))
                    print("\n\(problem)")
                }
            } else if let table {
                if lostSince != nil {
                    lostSince = nil
                    _ = Self.say("pohmelfs locks: \(address) answering again")
                }
                if self.json {
                    print(LockTableFormatter.json(table))
                } else {
                    if self.watch && terminal { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                    if self.watch {
                        print(LockTableFormatter.header(
                            server: "\(address)", interval: self.interval, response: table, width: width))
                        print()
                    }
                    print(LockTableFormatter.table(table, width: width))
                }
            }
            // Out through the pipe now: stdout is fully buffered when it is not a terminal, and
            // `--watch` ends by signal, which would discard the buffer (nil: every stream, since the
            // `stdout` global is off limits under strict concurrency).
            fflush(nil)
            if self.watch { try await Task.sleep(for: .milliseconds(Int64(self.interval * 1000))) }
        } while self.watch
    }

    /// The terminal's width when standard output is one (80 if it will not say), else nil: a
    /// pipe or a file gets whole lines.
    private static func terminalWidth(terminal: Bool) -> Int? {
        guard terminal else { return nil }
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    private static func say(_ line: String) -> Bool {
        var text = line + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        return true
    }
}

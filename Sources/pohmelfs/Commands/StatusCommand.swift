import ArgumentParser
import Foundation
import PohmelfsCore

/// `pohmelfs status MOUNTPOINT`: what one mount is doing, asked of the mount process itself.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a mount's server, session, options in force, traffic and write-back backlog.",
        discussion: """
            Asks the mount process through its status socket, /run/pohmelfs/mounts/MAJOR:MINOR.sock \
            (MAJOR:MINOR being the mount's device number, as in /proc/self/mountinfo; \
            $XDG_RUNTIME_DIR/pohmelfs/mounts/ for a user who cannot write /run/pohmelfs). \
            Connection states: connected, reconnecting (the server is away; requests wait), restoring \
            (a new session: reopening files, reclaiming locks), closed.

            JSON (--json): {"mountpoint", "source" (HOST:PORT:/SUBDIR), "server" (HOST:PORT), "pid", \
            "connection": {"state", "session", "since" (ISO 8601)}, "options": {"cache" (strict or none), \
            "writeback" (bool), "recovery" (hard or soft), "softTimeoutSeconds" (or null), \
            "attrTimeoutSeconds", "entryTimeoutSeconds", "negativeTimeoutSeconds", "cacheSizeBytes", \
            "readOnly", "tls"}, "requests": {"inFlight", "answered", "reconnects", "resent"}, \
            "writeback": {"dirtyBytes", "cachedBytes", "capacityBytes", "streamedWrites"}}.
            """
    )

    @Argument(help: "The mountpoint of a pohmelfs mount.", completion: .directory)
    var mountpoint: String

    @Flag(name: .long, help: "Print JSON (schema below) instead of text.")
    var json = false

    func run() throws {
        // From /proc/self/mountinfo, not stat(2): stat would ask the server, and wait for it
        // during an outage, which is when the status matters most.
        let absolute = Self.absolute(self.mountpoint)
        guard let (device, type) = Self.mountEntry(at: absolute) else {
            throw fail("status", "\(self.mountpoint) is not a mountpoint")
        }
        guard type == "fuse.pohmelfs" else {
            throw fail("status", "\(self.mountpoint) is not a pohmelfs mount (its type is \(type))")
        }
        let paths = MountStatus.socketPaths(device: device)
        guard let text = paths.lazy.compactMap(Self.ask).first else {
            throw fail(
                "status",
                "the pohmelfs mount at \(self.mountpoint) does not answer on \(paths.joined(separator: " or ")) (is its process running?)")
        }
        if self.json {
            print(text.trimmingCharacters(in: .whitespacesAndNewlines))
            return
        }
        let status: MountStatus
        do {
            status = try MountStatus.decode(text)
        } catch {
            throw fail("status", "the mount at \(self.mountpoint) answered something unreadable: \(error)")
        }
        print(Self.render(status))
    }

    static func render(_ status: MountStatus) -> String {
        let time = DateFormatter()
        time.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let session = String(status.connection.session, radix: 16)
        let requests = status.requests
        let writeback = status.writeback
        var lines = [
            "\(status.mountpoint): pohmelfs \(status.source) (pid \(status.pid))",
            "  server:     \(status.server), \(status.connection.state.rawValue) since \(time.string(from: status.connection.since))",
            "  session:    \(session) (#\(session.suffix(6)) in pohmelfs locks)",
            "  options:    \(status.options.asMountOptions)",
            "  requests:   \(requests.inFlight) in flight, \(requests.answered) answered, \(requests.reconnects) reconnects, \(requests.resent) resent",
        ]
        if status.options.writeback {
            lines.append(
                "  write-back: \(ByteCount(writeback.dirtyBytes)) waiting, \(ByteCount(writeback.cachedBytes)) cached of \(ByteCount(writeback.capacityBytes)), \(writeback.streamedWrites ?? 0) writes streamed")
        } else {
            lines.append("  write-back: off")
        }
        return lines.joined(separator: "\n")
    }

    /// `path` made absolute without touching the filesystem ("." and ".." folded, symlinks kept).
    static func absolute(_ path: String) -> String {
        let base = path.hasPrefix("/") ? "" : FileManager.default.currentDirectoryPath
        var parts: [Substring] = []
        for part in (base + "/" + path).split(separator: "/") {
            if part == "." { continue }
            if part == ".." { _ = parts.popLast() } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The device number (`makedev(major, minor)`) and type of the mount at `path`, the last one
    /// listed (the visible one), from /proc/self/mountinfo.
    static func mountEntry(at path: String) -> (UInt64, String)? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        var found: (UInt64, String)?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 7, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { continue }
            // Spaces and such are octal-escaped in mountinfo (\040).
            guard Self.unescaped(fields[4]) == path else { continue }
            let numbers = fields[2].split(separator: ":").compactMap { UInt64($0) }
            guard numbers.count == 2 else { continue }
            let (major, minor) = (numbers[0], numbers[1])
            let device = ((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12)
            found = (device, String(fields[dash + 1]))
        }
        return found
    }

    private static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var index = field.utf8.startIndex
        let utf8 = field.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "\\"), let end = utf8.index(index, offsetBy: 4, limitedBy: utf8.endIndex),
                let value = UInt8(String(decoding: utf8[utf8.index(after: index)..<end], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index = end
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The status text from the socket at `path`, or nil when nothing answers there.
    private static func ask(_ path: String) -> String? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return nil }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { data += chunk.prefix(count) } else if count < 0 && errno == EINTR { continue } else { break }
        }
        return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
    }
}

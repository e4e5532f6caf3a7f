/// The mounted filesystems, from `/proc/self/mounts`: tells the report which filesystem each
/// target is on (`ext4`, `fuse.pohmelfs`, `fuse.sshfs`, `tmpfs`).
struct MountTable {
    struct Entry: Equatable {
        var mountPoint: String
        var type: String
        var source: String
    }

    var entries: [Entry]

    /// Parses mounts(5) text: "source mountpoint type options dump pass", with spaces, tabs,
    /// newlines and backslashes escaped as octal (`\040`).
    init(text: String) {
        self.entries = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3 else { return nil }
            return Entry(
                mountPoint: Self.unescape(String(fields[1])), type: String(fields[2]),
                source: Self.unescape(String(fields[0])))
        }
    }

    /// The live table, or an empty one when `/proc` is not readable.
    static func current() -> MountTable {
        MountTable(text: (try? Self.readSmallFile("/proc/self/mounts")) ?? "")
    }

    /// The mount holding `path` (canonical and absolute): the last-mounted entry whose mount
    /// point is `path` or one of its ancestors, comparing whole components.
    func entry(containing path: String) -> Entry? {
        var best: Entry?
        for entry in self.entries {
            let point = entry.mountPoint
            let covers = point == "/" || path == point || path.hasPrefix(point + "/")
            if covers && point.count >= (best?.mountPoint.count ?? -1) { best = entry }
        }
        return best
    }

    static func unescape(_ field: String) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\") && index + 3 < utf8.count,
                let value = UInt8(String(decoding: utf8[index + 1...index + 3], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a small text file (procfs reports size 0, so read to EOF).
    static func readSmallFile(_ path: String) throws(BenchError) -> String {
        let file = try OpenFile(path, flags: 0)
        var data: [UInt8] = []
        let buffer = AlignedBuffer(count: 65536)
        while true {
            let got = try file.read(into: buffer.bytes, requestSize: 65536)
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer.bytes[0..<got]))
            if got < buffer.bytes.count { break }
        }
        try file.close()
        return String(decoding: data, as: UTF8.self)
    }
}

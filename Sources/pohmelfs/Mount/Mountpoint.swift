import Foundation
import PohmelfsCore

/// Checks that a path can take a new mount, with the one-line reasons users need.
enum Mountpoint {
    /// The absolute path of a usable mountpoint, or a `MountFailure` saying why not.
    static func validated(_ path: String) throws -> String {
        var st = stat()
        guard stat(path, &st) == 0 else {
            switch errno {
            case ENOENT: throw MountFailure("mountpoint \(path) does not exist")
            case ENOTCONN:
                throw MountFailure(
                    "mountpoint \(path) is a dead FUSE mount (transport endpoint is not connected); clear it with: fusermount3 -u \(path)"
                )
            default: throw MountFailure("cannot use mountpoint \(path): \(Errno.current)")
            }
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw MountFailure("mountpoint \(path) is not a directory") }
        guard let resolved = realpath(path, nil) else { throw MountFailure("cannot resolve mountpoint \(path): \(Errno.current)") }
        let absolute = String(cString: resolved)
        free(resolved)
        var parent = stat()
        if absolute == "/" || stat(absolute + "/..", &parent) != 0 || parent.st_dev != st.st_dev || parent.st_ino == st.st_ino {
            throw MountFailure("mountpoint \(path) is busy: something is already mounted there")
        }
        return absolute
    }

    /// Raises the mount's readahead to `kilobytes` (FIELD-NOTES: INIT resets it, and the kernel
    /// otherwise caps reads at 128 KiB whatever max_readahead says). Best effort.
    static func setReadahead(_ path: String, kilobytes: Int) {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        let device = UInt64(st.st_dev)
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        let file = "/sys/class/bdi/\(major):\(minor)/read_ahead_kb"
        try? "\(kilobytes)\n".write(toFile: file, atomically: false, encoding: .utf8)
    }
}

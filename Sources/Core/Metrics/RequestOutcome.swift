#if canImport(Glibc)
import Glibc
#endif

/// Which errno answers are part of normal work rather than failures, so that
/// `pohmelfs_request_errors_total` counts only what an operator should look at.
///
/// A LOOKUP of a name that does not exist is how `open(O_CREAT)`, `stat` of a missing file and
/// every compiler's include search work; a GETXATTR of an unset attribute (ENODATA, notably
/// `security.capability` before each write) or with a too-small buffer (ERANGE, the size probe);
/// a lock that conflicts (EAGAIN) or a blocking one interrupted (EINTR); a name that already
/// exists for `mkdir -p` and O_EXCL creates (EEXIST). These go to
/// `pohmelfs_request_negative_answers_total`.
public enum RequestOutcome {
    static let expectedNegatives: [Opcode: [Int32]] = [
        .lookup: [ENOENT],
        .getxattr: [ENODATA, ERANGE],
        .listxattr: [ERANGE],
        .removexattr: [ENODATA],
        .setlk: [EAGAIN, EINTR],
        .create: [EEXIST],
        .mkdir: [EEXIST],
        .mknod: [EEXIST],
        .symlink: [EEXIST],
        .link: [EEXIST],
    ]

    public static func isExpectedNegative(_ opcode: Opcode, errno: Int32) -> Bool {
        Self.expectedNegatives[opcode]?.contains(errno) ?? false
    }
}

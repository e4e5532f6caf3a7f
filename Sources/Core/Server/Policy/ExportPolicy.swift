/// Who may use an export and what they may do there: `serve --read-only`, `--allow`,
/// `--root-squash`, `--all-squash`, `--anonuid`, `--anongid`.
///
/// The server applies it to every connection at accept (`admits`) and to every request before
/// the store sees it (`RequestRouter`): first the caller is squashed, then the request is
/// checked against the policy with the squashed caller. The default policy admits everyone,
/// squashes nobody and allows changes, as before policies existed.
public struct ExportPolicy: Hashable, Sendable {
    /// NFS-style identity mapping of the caller a request names.
    public enum Squash: String, Hashable, Sendable, CaseIterable {
        /// Callers act as who they say they are.
        case none
        /// uid 0 becomes `anonymousUID`, gid 0 `anonymousGID` (primary and supplementary).
        case root
        /// Every caller becomes `anonymousUID`/`anonymousGID` with no supplementary groups.
        case all
    }

    /// The nobody/nogroup ids NFS uses by default.
    public static let defaultAnonymousID: UInt32 = 65534

    /// EROFS for every request that would change the export.
    public var readOnly: Bool
    /// Peers allowed to connect; empty allows every peer.
    public var allow: [CIDR]
    public var squash: Squash
    public var anonymousUID: UInt32
    public var anonymousGID: UInt32

    public init(
        readOnly: Bool = false, allow: [CIDR] = [], squash: Squash = .none,
        anonymousUID: UInt32 = ExportPolicy.defaultAnonymousID, anonymousGID: UInt32 = ExportPolicy.defaultAnonymousID
    ) {
        self.readOnly = readOnly
        self.allow = allow
        self.squash = squash
        self.anonymousUID = anonymousUID
        self.anonymousGID = anonymousGID
    }

    /// Whether a peer whose address is `addressBytes` (4 or 16 bytes) may connect.
    public func admits(addressBytes: [UInt8]) -> Bool {
        self.allow.isEmpty || self.allow.contains { $0.contains(addressBytes: addressBytes) }
    }

    /// The identity a request from `caller` acts with.
    public func squashed(_ caller: Caller) -> Caller {
        switch self.squash {
        case .none:
            return caller
        case .all:
            return Caller(uid: self.anonymousUID, gid: self.anonymousGID, pid: caller.pid, groups: [])
        case .root:
            var mapped = caller
            if mapped.uid == 0 { mapped.uid = self.anonymousUID }
            if mapped.gid == 0 { mapped.gid = self.anonymousGID }
            mapped.groups = mapped.groups.map { $0 == 0 ? self.anonymousGID : $0 }
            return mapped
        }
    }

    /// The requests that change the export whatever their payload says.
    public static let changingOpcodes: Set<Opcode> = [
        .setattr, .symlink, .mknod, .mkdir, .unlink, .rmdir, .rename, .link, .create, .write, .fallocate,
        .copyFileRange, .setxattr, .removexattr, .append, .prealloc, .delegatedCreate, .delegatedUnlink,
    ]

    /// Whether an OPEN with `flags` could change the file: write access or O_TRUNC.
    public static func openChanges(flags: UInt32) -> Bool {
        let accessMode = flags & 0o3  // O_ACCMODE
        return accessMode != 0 || flags & OpenRequest.truncating != 0
    }

    /// Throws EROFS when a read-only export receives a request that would change it.
    /// `openFlags` is the OPEN request's flags (nil for other opcodes).
    public func checkChange(_ opcode: Opcode, openFlags: UInt32? = nil) throws {
        guard self.readOnly else { return }
        if Self.changingOpcodes.contains(opcode) { throw Errno.readOnly }
        if opcode == .open, let flags = openFlags, Self.openChanges(flags: flags) { throw Errno.readOnly }
    }

    /// The namespaces only the real root may touch: `trusted.` (root-only on Linux anyway) and
    /// `security.` (capabilities and LSM labels, which decide what a program may do).
    public static let privilegedXattrPrefixes: [[UInt8]] = [Array("trusted.".utf8), Array("security.".utf8)]

    /// Whether `caller` may name xattr `name`: names in a privileged namespace are for an
    /// unsquashed root only (uid 0 on a server that squashes nobody; under `--root-squash` or
    /// `--all-squash` no caller is unsquashed root, even with `--anonuid 0`).
    public func mayUseXattr(_ name: [UInt8], caller: Caller) -> Bool {
        if self.squash == .none, caller.uid == 0 { return true }
        return !Self.privilegedXattrPrefixes.contains { name.starts(with: $0) }
    }

    /// Throws EPERM unless `caller` may name xattr `name` (for changes: SETXATTR, REMOVEXATTR).
    public func checkXattrName(_ name: [UInt8], caller: Caller) throws {
        guard self.mayUseXattr(name, caller: caller) else { throw Errno.permission }
    }

    /// A listxattr(2) result (NUL-terminated names) keeping only the names `keep` accepts.
    public static func filterXattrList(_ list: [UInt8], keep: ([UInt8]) -> Bool) -> [UInt8] {
        var result: [UInt8] = []
        for name in list.split(separator: 0, omittingEmptySubsequences: true) where keep(Array(name)) {
            result.append(contentsOf: name)
            result.append(0)
        }
        return result
    }
}

import NIOCore
import PohmelfsCore

/// Sample values for codec tests: every field set to something distinctive (no zeros where a
/// zero could hide a missing field, bytes that differ from their neighbours), plus one sample
/// of every message the opcode table names.
///
/// `requestSamples` and `replySamples` are keyed by opcode; `MessageRoundTripTests` checks that
/// they cover `Opcode.allCases`, so adding an opcode without a sample fails the suite.
enum WireSamples {
    /// A handle of realistic size (a wrapped 8-byte ext4 handle is 6 + 8 + 16 bytes).
    static let handle = ObjectHandle(bytes: (0..<30).map { UInt8(0xA0 &+ $0) })
    static let otherHandle = ObjectHandle(bytes: (0..<22).map { UInt8(0x10 &+ $0 &* 3) })

    static let attributes = FileAttributes(
        inode: 0x0102_0304_0506_0708, size: 0x1122_3344_5566, blocks: 0x77_8899, accessTime: Timestamp(
            seconds: 1_700_000_001, nanoseconds: 123_456_789),
        modificationTime: Timestamp(seconds: -86_400, nanoseconds: 999_999_999),
        changeTime: Timestamp(seconds: Int64.max, nanoseconds: 1), mode: 0o100644, linkCount: 3, uid: 1000,
        gid: 100, rdev: 0x0103, blockSize: 4096)

    static let directoryAttributes = FileAttributes(
        inode: 2, size: 4096, blocks: 8, accessTime: Timestamp(seconds: 1, nanoseconds: 2),
        modificationTime: Timestamp(seconds: 3, nanoseconds: 4), changeTime: Timestamp(seconds: 5, nanoseconds: 6),
        mode: 0o040755, linkCount: 2, uid: 0, gid: 0, rdev: 0, blockSize: 4096)

    static let entry = Entry(handle: handle, attributes: attributes)
    static let directoryEntry = Entry(handle: otherHandle, attributes: directoryAttributes)

    static let caller = Caller(uid: 1000, gid: 100, pid: 4242, groups: [4, 24, 27, 0xFFFF_FFFE])

    /// `bytes` as a buffer.
    static func buffer(_ bytes: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        return buffer
    }

    /// A payload of `count` bytes with a pattern that reveals shifted or dropped bytes.
    static func data(_ count: Int, seed: UInt8 = 7) -> ByteBuffer {
        self.buffer((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) })
    }

    static let readdirReply = ReaddirResponse(
        entries: [
            DirectoryEntry(name: ".", cookie: 1, inode: 2, type: 4, entry: nil),
            DirectoryEntry(name: "..", cookie: 2, inode: 1, type: 4, entry: nil),
            DirectoryEntry(name: "file", cookie: 0x7FFF_FFFF_FFFF_FFFF, inode: 0x0102_0304_0506_0708, type: 8, entry: entry),
            DirectoryEntry(name: FileName(bytes: [0xFF, 0xFE, 0x41]), cookie: 9, inode: 10, type: 10, entry: nil),
        ],
        isEnd: true)

    /// One request (or notice) per opcode: the payload the frame carrying that opcode carries
    /// from its sender.
    static let requestSamples: [Opcode: any WireMessage] = {
        var hello = HelloRequest(
            oldestVersion: 1, newestVersion: 3, capabilities: [.readdirPlus, .transactionLocks],
            maximumTransaction: 4 << 20, clientName: "host:/mnt", resumeSession: SessionID(41))
        hello.clientName.append(0xFF)
        return [
            .hello: hello,
            .lookup: LookupRequest(parent: handle, name: "name with spaces"),
            .getattr: GetattrRequest(handle: handle),
            .setattr: SetattrRequest(
                handle: handle, file: FileHandleID(77), mode: 0o4755, uid: 1, gid: 2, size: 1 << 40,
                accessTime: .now, modificationTime: .set(Timestamp(seconds: 12, nanoseconds: 345))),
            .readlink: ReadlinkRequest(handle: handle),
            .symlink: SymlinkRequest(parent: handle, name: "link", target: Array("../target/../x".utf8)),
            .mknod: MknodRequest(parent: handle, name: "fifo", mode: 0o010644, rdev: 0x0807),
            .mkdir: MkdirRequest(parent: handle, name: "dir", mode: 0o755),
            .unlink: UnlinkRequest(parent: handle, name: "gone"),
            .rmdir: RmdirRequest(parent: handle, name: "gone-dir"),
            .rename: RenameRequest(
                oldParent: handle, oldName: "old", newParent: otherHandle, newName: "new", flags: .noReplace),
            .link: LinkRequest(target: handle, newParent: otherHandle, name: "hardlink"),
            .open: OpenRequest(handle: handle, flags: 0o2002, caching: true),
            .read: ReadRequest(file: FileHandleID(5), offset: 0x1_0000_0000, size: 1 << 20),
            .write: WriteRequest(file: FileHandleID(6), offset: 12345, data: data(1000)),
            .flush: FlushRequest(file: FileHandleID(7), owner: LockOwner(0xDEAD_BEEF_CAFE)),
            .release: ReleaseRequest(file: FileHandleID(8), flockOwner: LockOwner(0x1234)),
            .fsync: FsyncRequest(file: FileHandleID(9), dataOnly: true),
            .opendir: OpendirRequest(handle: otherHandle),
            .readdir: ReaddirRequest(directory: FileHandleID(10), cookie: 0xFFFF_FFFF_0000_0001, maximumEntries: 3, plus: true),
            .releasedir: ReleasedirRequest(directory: FileHandleID(11)),
            .statfs: StatfsRequest(handle: handle),
            .setxattr: SetxattrRequest(handle: handle, name: Array("user.test".utf8), value: [0, 1, 2, 0xFF], flags: 1),
            .getxattr: GetxattrRequest(handle: handle, name: Array("user.test".utf8), size: 64),
            .listxattr: ListxattrRequest(handle: handle, size: 0),
            .removexattr: RemovexattrRequest(handle: handle, name: Array("user.test".utf8)),
            .access: AccessRequest(handle: handle, mask: 7),
            .create: CreateRequest(parent: handle, name: "new-file", mode: 0o600, flags: 0o302),
            .fallocate: FallocateRequest(file: FileHandleID(12), mode: 3, offset: 4096, length: 8192),
            .copyFileRange: CopyFileRangeRequest(
                source: FileHandleID(13), sourceOffset: 1, destination: FileHandleID(14), destinationOffset: 2,
                length: 3),
            .getlk: GetlkRequest(
                file: FileHandleID(16), owner: LockOwner(0xABCD), type: .write,
                range: WireLockRange(start: 4096, end: .max), pid: 4242),
            .setlk: SetlkRequest(
                file: FileHandleID(17), owner: LockOwner(0xABCE), flavor: .flock, type: .read, range: .wholeFile,
                pid: 7, wait: true, reclaim: true),
            .cancel: CancelRequest(transaction: TransactionID(0x55)),
            .lockTable: LockTableRequest(pathPrefix: Array("/dir".utf8)),
            .invalidateDone: InvalidateDoneRequest(notice: TransactionID(0x77)),
            .ping: PingRequest(),
            .reopen: ReopenRequest(
                file: FileHandleID(0x66), handle: handle, flags: 0o2002, caching: true,
                isDirectory: false),
            .writebackGrant: WritebackGrantRequest(file: FileHandleID(0x1234)),
            .grantRelease: GrantReleaseRequest(notice: TransactionID(0x78)),
            .recall: RecallNotice(handle: handle),
            .leaseBreak: LeaseBreakNotice(
                names: [LeasedName(directory: otherHandle, name: "x.txt")], objects: [handle, otherHandle]),
            .auth: AuthRequest(secret: Array("0123456789abcdef".utf8) + [0x00, 0xFF]),
            .append: AppendRequest(file: FileHandleID(6), data: data(777)),
            .prealloc: PreallocRequest(count: 64),
            .delegatedCreate: DelegatedCreateRequest(
                seq: 0x0102_0304_0506, parent: otherHandle, name: "made.c", staged: handle, mode: 0o100644),
            .delegatedUnlink: DelegatedUnlinkRequest(seq: 7, parent: otherHandle, name: "gone.c", expected: handle),
            .delegationReturn: DelegationReturnRequest(directory: otherHandle, lastSeq: 99),
            .opendirList: OpendirListRequest(handle: otherHandle, maximumEntries: 64, plus: true),
            .delegationRecall: DelegationRecallNotice(directory: otherHandle),
            .invalidate: InvalidateNotice(handle: handle, offset: 4096, length: 0),
            .lockGranted: LockGrantedNotice(transaction: TransactionID(0x0102_0304)),
        ]
    }()

    /// One successful reply per request opcode (notices have none).
    static let replySamples: [Opcode: any WireMessage] = [
        .hello: HelloResponse(
            version: 1, capabilities: [.callerIdentity, .persistentHandles, .readdirPlus],
            maximumTransaction: 1 << 20, session: SessionID(99), root: directoryEntry, resumed: true),
        .lookup: entry,
        .getattr: attributes,
        .setattr: attributes,
        .readlink: ReadlinkResponse(target: Array("/etc/passwd".utf8)),
        .symlink: entry,
        .mknod: entry,
        .mkdir: directoryEntry,
        .unlink: EmptyResponse(),
        .rmdir: EmptyResponse(),
        .rename: EmptyResponse(),
        .link: entry,
        .open: OpenResponse(file: FileHandleID(0xFFFF_FFFF_FFFF_FFFF), cacheValid: true),
        .read: ReadResponse(data: data(4097, seed: 3)),
        .write: WriteResponse(count: 1000),
        .flush: EmptyResponse(),
        .release: EmptyResponse(),
        .fsync: EmptyResponse(),
        .opendir: OpenResponse(file: FileHandleID(1)),
        .readdir: readdirReply,
        .releasedir: EmptyResponse(),
        .statfs: StatfsResponse(
            blockSize: 4096, fragmentSize: 1024, blocks: 1 << 30, freeBlocks: 1 << 29, availableBlocks: 1 << 28,
            files: 1 << 20, freeFiles: 1 << 19, maximumNameLength: 255),
        .setxattr: EmptyResponse(),
        .getxattr: XattrResponse(size: 4, value: [0, 1, 2, 0xFF]),
        .listxattr: XattrResponse(size: 20, value: []),
        .removexattr: EmptyResponse(),
        .access: EmptyResponse(),
        .create: CreateResponse(entry: entry, file: FileHandleID(15)),
        .fallocate: EmptyResponse(),
        .copyFileRange: WriteResponse(count: 3),
        .getlk: GetlkResponse(type: .read, range: WireLockRange(start: 0, end: 9), pid: 99),
        .setlk: EmptyResponse(),
        .cancel: EmptyResponse(),
        .invalidateDone: EmptyResponse(),
        .ping: EmptyResponse(),
        .reopen: EmptyResponse(),
        .writebackGrant: WritebackGrantResponse(granted: true),
        .grantRelease: EmptyResponse(),
        .auth: EmptyResponse(),
        .append: AppendResponse(offset: 0x1_0000_0001, count: 777),
        .prealloc: PreallocResponse(objects: [
            StagedObject(entry: entry, file: FileHandleID(21)), StagedObject(entry: entry, file: FileHandleID(22)),
        ]),
        .delegatedCreate: entry,
        .delegatedUnlink: EmptyResponse(),
        .delegationReturn: EmptyResponse(),
        .opendirList: OpendirListResponse(
            file: FileHandleID(3), listing: readdirReply),
        .lockTable: LockTableResponse(
            entries: [
                LockTableEntry(
                    path: Array("/a/b".utf8), range: WireLockRange(start: 0, end: .max), mode: .exclusive,
                    kind: .posix, session: SessionID(3), client: Array("host:/mnt".utf8),
                    peer: Array("127.0.0.1:5".utf8), owner: LockOwner(0xF00), pid: 12, waiting: true,
                    blockedBySession: SessionID(2), blockedByPid: 11, ageMilliseconds: 1500)
            ], truncated: false),
    ]
}

/// Encodes any wire message into a fresh buffer.
func encoded(_ message: any WireMessage) -> ByteBuffer {
    var buffer = ByteBuffer()
    message.encode(into: &buffer)
    return buffer
}

/// Decodes a whole payload as the dynamic type `type` (an opcode descriptor's type).
func decode(_ type: any WireMessage.Type, payload: ByteBuffer) throws -> any WireMessage {
    try type.decode(payload: payload)
}

/// True when two existential messages have the same dynamic type and are `==`.
func wireMessagesEqual(_ lhs: any WireMessage, _ rhs: any WireMessage) -> Bool {
    func equal<M: WireMessage>(_ lhs: M) -> Bool {
        guard let rhs = rhs as? M else { return false }
        return lhs == rhs
    }
    return equal(lhs)
}

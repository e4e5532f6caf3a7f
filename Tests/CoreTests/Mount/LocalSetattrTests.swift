import XCTest

@testable import PohmelfsCore

/// What the client decides itself under the write-back grant (`LocalSetattr`), and what it
/// leaves to the server; and which SETATTRs may travel as one.
final class LocalSetattrTests: XCTestCase {
    private let now = Timestamp(seconds: 2_000_000_000, nanoseconds: 5)
    private let file = FileAttributes(
        inode: 7, size: 10, blocks: 1, accessTime: Timestamp(seconds: 1, nanoseconds: 0),
        modificationTime: Timestamp(seconds: 2, nanoseconds: 0), changeTime: Timestamp(seconds: 3, nanoseconds: 0),
        mode: 0o100644, linkCount: 1, uid: 1000, gid: 1000, rdev: 0, blockSize: 4096)
    private let owner = Caller(uid: 1000, gid: 1000)
    private let stranger = Caller(uid: 1001, gid: 1001)

    func testTheOwnersChmodAndUtimesAreAnsweredLocally() throws {
        let times = AttributeChanges(accessTime: .set(Timestamp(seconds: 9, nanoseconds: 1)), modificationTime: .now)
        let mode = try XCTUnwrap(LocalSetattr.apply(AttributeChanges(mode: 0o600), to: self.file, caller: self.owner, now: self.now))
        XCTAssertEqual(mode.mode, 0o100600)
        XCTAssertEqual(mode.changeTime, self.now)
        let timed = try XCTUnwrap(LocalSetattr.apply(times, to: mode, caller: self.owner, now: self.now))
        XCTAssertEqual(timed.accessTime, Timestamp(seconds: 9, nanoseconds: 1))
        XCTAssertEqual(timed.modificationTime, self.now)
        XCTAssertEqual(timed.size, 10)
    }

    func testRootsChownIsLocalButNotOfASetIDFile() throws {
        let chown = AttributeChanges(uid: 5, gid: 6)
        let changed = try XCTUnwrap(LocalSetattr.apply(chown, to: self.file, caller: .root, now: self.now))
        XCTAssertEqual([changed.uid, changed.gid], [5, 6])
        var setuid = self.file
        setuid.mode = 0o104755
        XCTAssertNil(LocalSetattr.apply(chown, to: setuid, caller: .root, now: self.now))
        XCTAssertNil(LocalSetattr.apply(AttributeChanges(mode: 0o4755, uid: 5), to: self.file, caller: .root, now: self.now))
    }

    func testWhatTheServerMustDecideIsLeftToIt() {
        XCTAssertNil(LocalSetattr.apply(AttributeChanges(mode: 0o600), to: self.file, caller: self.stranger, now: self.now))
        XCTAssertNil(LocalSetattr.apply(AttributeChanges(uid: 1000), to: self.file, caller: self.owner, now: self.now))
        XCTAssertNil(LocalSetattr.apply(AttributeChanges(size: 0), to: self.file, caller: .root, now: self.now))
        let outsider = Caller(uid: 1000, gid: 50)
        XCTAssertNil(LocalSetattr.apply(AttributeChanges(mode: 0o2755), to: self.file, caller: outsider, now: self.now))
        var directory = self.file
        directory.mode = 0o040755
        XCTAssertNil(LocalSetattr.apply(AttributeChanges(mode: 0o700), to: directory, caller: .root, now: self.now))
    }

    func testChownChmodAndUtimesMergeUnlessAModeAfterAChownHasSetIDBits() throws {
        let handle = ObjectHandle(bytes: [1, 2, 3])
        let chown = SetattrRequest(handle: handle, uid: 5, gid: 6)
        let chmod = SetattrRequest(handle: handle, mode: 0o640)
        let utimes = SetattrRequest(handle: handle, modificationTime: .set(Timestamp(seconds: 4, nanoseconds: 0)))
        let merged = try XCTUnwrap(LocalSetattr.merged(try XCTUnwrap(LocalSetattr.merged(chown, chmod)), utimes))
        XCTAssertEqual(merged, SetattrRequest(handle: handle, mode: 0o640, uid: 5, gid: 6, modificationTime: utimes.modificationTime))
        XCTAssertNil(LocalSetattr.merged(chown, SetattrRequest(handle: handle, mode: 0o4755)))
        XCTAssertNotNil(LocalSetattr.merged(chmod, chown))
    }
}

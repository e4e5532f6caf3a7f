import NIOCore
import XCTest

@testable import PohmelfsCore

/// What a client reclaims after a server restart: the locks its processes hold, as the server
/// granted them (merged, split, dropped on close).
final class HeldLockLedgerTests: XCTestCase {
    private let handle = ObjectHandle(bytes: [1, 2, 3])
    private let file = FileHandleID(9)

    private func ledgers() -> (OpenFileLedger, HeldLockLedger) {
        let open = OpenFileLedger()
        let locks = HeldLockLedger(openFiles: open)
        let opened = open.tracking(OpenRequest(handle: self.handle, flags: 2), caller: .root) { _ in }
        opened(.success(OpenResponse(file: self.file)))
        return (open, locks)
    }

    private func granted(_ locks: HeldLockLedger, _ request: SetlkRequest) {
        locks.tracking(request) { _ in }(.success(EmptyResponse()))
    }

    private func setlk(_ type: FileLockType, _ start: UInt64, _ end: UInt64, owner: UInt64 = 1) -> SetlkRequest {
        SetlkRequest(
            file: self.file, owner: LockOwner(owner), flavor: .posix, type: type,
            range: WireLockRange(start: start, end: end), pid: 5, wait: false)
    }

    private func ranges(_ locks: HeldLockLedger) -> [String] {
        locks.all.flatMap { $0.1 }.map { "\($0.owner.owner.rawValue):\($0.mode):\($0.range.start)-\($0.range.end)" }
            .sorted()
    }

    func testGrantedLocksMergeAndUnlocksSplitThem() {
        let (_, locks) = self.ledgers()
        self.granted(locks, self.setlk(.write, 0, 9))
        self.granted(locks, self.setlk(.write, 10, 19))
        self.granted(locks, self.setlk(.unlock, 5, 14))
        XCTAssertEqual(self.ranges(locks), ["1:write:0-4", "1:write:15-19"])
        // A refused request changes nothing.
        locks.tracking(self.setlk(.write, 100, 200)) { _ in }(.failure(Errno(EAGAIN)))
        XCTAssertEqual(locks.count, 2)
    }

    func testCloseDropsTheOwnersPosixLocksAndTheLastReleaseEverything() {
        let (open, locks) = self.ledgers()
        self.granted(locks, self.setlk(.read, 0, 9, owner: 1))
        self.granted(locks, self.setlk(.read, 20, 29, owner: 2))
        _ = locks.tracking(FlushRequest(file: self.file, owner: LockOwner(1))) { _ in }
        XCTAssertEqual(self.ranges(locks), ["2:read:20-29"])
        let release = ReleaseRequest(file: self.file)
        _ = locks.tracking(release) { _ in }
        _ = open.tracking(release, caller: .root) { _ in }
        XCTAssertEqual(locks.count, 0)
        XCTAssertEqual(open.count, 0)
    }
}

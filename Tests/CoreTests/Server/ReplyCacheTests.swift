import NIOCore
import XCTest

@testable import PohmelfsCore

/// The per-session reply cache: first sight performs, a copy in progress waits, a finished one
/// is answered again; bounded, oldest first.
final class ReplyCacheTests: XCTestCase {
    private func reply(_ byte: UInt8) -> ByteBuffer { ByteBuffer(bytes: [byte]) }

    func testARequestIsPerformedOnceAndItsResentCopiesAnsweredFromTheCache() {
        let cache = ReplyCache()
        XCTAssertEqual(cache.admit(TransactionID(5)), .perform)
        XCTAssertEqual(cache.admit(TransactionID(5)), .inProgress)
        cache.complete(TransactionID(5), reply: self.reply(1))
        XCTAssertEqual(cache.admit(TransactionID(5)), .answered(self.reply(1)))
        XCTAssertEqual(cache.admit(TransactionID(6)), .perform)
    }

    func testTheOldestRepliesAreEvictedBeyondTheCapacity() {
        let cache = ReplyCache(capacity: 3)
        for id in 1...10 as ClosedRange<UInt64> {
            XCTAssertEqual(cache.admit(TransactionID(id)), .perform)
            cache.complete(TransactionID(id), reply: self.reply(UInt8(id)))
            XCTAssertLessThanOrEqual(cache.count, 3)
        }
        XCTAssertEqual(cache.admit(TransactionID(10)), .answered(self.reply(10)))
        XCTAssertEqual(cache.admit(TransactionID(8)), .answered(self.reply(8)))
        // Evicted: a copy this old would be performed again (documented bound).
        XCTAssertEqual(cache.admit(TransactionID(7)), .perform)
    }

    func testAnAbandonedRequestIsPerformedWhenResent() {
        let cache = ReplyCache()
        XCTAssertEqual(cache.admit(TransactionID(1)), .perform)
        cache.abandon(TransactionID(1))
        XCTAssertEqual(cache.admit(TransactionID(1)), .perform)
    }

    func testOnlyReplayUnsafeOpcodesAreCached() {
        for opcode in [Opcode.create, .rename, .unlink, .write, .mkdir, .link, .symlink, .setattr, .open, .release] {
            XCTAssertTrue(opcode.isReplayUnsafe, "\(opcode)")
        }
        for opcode in [Opcode.read, .getattr, .lookup, .readdir, .ping, .hello, .getlk] {
            XCTAssertFalse(opcode.isReplayUnsafe, "\(opcode)")
        }
    }
}

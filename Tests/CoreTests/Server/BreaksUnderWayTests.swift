import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import XCTest

@testable import PohmelfsCore

/// Holders being broken are holders until they answer (`CacheCoherence+BreaksUnderWay`): a second
/// change of an object while a round breaking a lease on it is under way waits for that holder.
final class BreaksUnderWayTests: XCTestCase {
    let a = SessionID(1)
    let b = SessionID(2)
    let file = ObjectHandle(bytes: [4, 5, 6])

    /// The notice ids sent to B, in order.
    final class Sent: Sendable {
        let ids = Mutex<[TransactionID]>([])
    }

    func coherence(_ sent: Sent) -> CacheCoherence {
        let coherence = CacheCoherence(logger: Logger(label: "test"))
        coherence.sessionStarted(self.a, allocator: ByteBufferAllocator()) { _ in }
        coherence.sessionStarted(self.b, allocator: ByteBufferAllocator()) { buffer in
            var buffer = buffer
            if let frame = try? FrameDecoder().decodeFrame(from: &buffer) {
                sent.ids.withLock { $0.append(frame.header.transaction) }
            }
        }
        coherence.setLeases(true, for: self.a)
        coherence.setLeases(true, for: self.b)
        coherence.grantLeases(directories: [], objects: [self.file], to: self.b, since: coherence.leaseSequence())
        return coherence
    }

    func testASecondChangeWaitsForTheHolderTheFirstRoundIsBreaking() {
        for secondIsData in [false, true] {
            let sent = Sent()
            let coherence = self.coherence(sent)
            let loop = EmbeddedEventLoop()
            let done = Mutex<[String]>([])
            XCTAssertTrue(coherence.breakLeases(names: [], objects: [self.file], by: self.a, timerLoop: loop) {
                done.withLock { $0.append("first") }
            })
            let waits =
                secondIsData
                ? coherence.invalidate(self.file, offset: 0, length: 0, by: self.a, timerLoop: loop) {
                    done.withLock { $0.append("second") }
                }
                : coherence.breakLeases(names: [], objects: [self.file], by: self.a, timerLoop: loop) {
                    done.withLock { $0.append("second") }
                }
            XCTAssertTrue(waits, "the second change found nobody to wait for")
            let ids = sent.ids.withLock { $0 }
            guard ids.count == 2 else { return XCTFail("B was sent \(ids.count) notices, not 2") }
            coherence.acknowledged(ids[0], by: self.b)
            XCTAssertEqual(done.withLock { $0 }, ["first"])
            coherence.acknowledged(ids[1], by: self.b)
            XCTAssertEqual(done.withLock { $0 }, ["first", "second"])
            // Both answered: a third change has nobody to wait for.
            XCTAssertFalse(coherence.breakLeases(names: [], objects: [self.file], by: self.a, timerLoop: loop) {})
            XCTAssertTrue(coherence.state.withLock { $0.breakRounds.isEmpty })
        }
    }

    func testARoundThatGaveUpOnTheHolderIsNotWaitedForAgain() {
        let sent = Sent()
        let coherence = self.coherence(sent)
        let loop = EmbeddedEventLoop()
        XCTAssertTrue(coherence.breakLeases(names: [], objects: [self.file], by: self.a, timerLoop: loop) {})
        loop.advanceTime(by: TimeAmount(coherence.timeout))
        XCTAssertTrue(coherence.state.withLock { $0.breakRounds.isEmpty && $0.rounds.isEmpty })
        XCTAssertFalse(coherence.breakLeases(names: [], objects: [self.file], by: self.a, timerLoop: loop) {})
    }
}

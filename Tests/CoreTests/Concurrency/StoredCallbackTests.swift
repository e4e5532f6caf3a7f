import Dispatch
import Foundation
import Synchronization
@testable import PohmelfsCore
import XCTest

/// A handler kept in a mutex is called at the same stack depth however often it was read
/// (`StoredCallback`): stored as a bare closure, each read through `withLock` wrapped it in two
/// more thunks, so the 1,000th call ran some 2,000 frames deeper than the first.
final class StoredCallbackTests: XCTestCase {
    /// The depth of the stack at each call of the handler.
    private func depths(_ body: (@escaping @Sendable () -> Void) -> Void) -> [Int] {
        let depths = Mutex<[Int]>([])
        body { depths.withLock { $0.append(Thread.callStackReturnAddresses.count) } }
        return depths.withLock { $0 }
    }

    func testANoticeHandlerIsCalledAtTheSameDepthAfterAThousandNotices() {
        let seen = self.depths { record in
            let handler = LateBoundHandler<Int>()
            handler.setHandler { _ in record() }
            for event in 0..<1000 { handler.dispatch(event) }
        }
        XCTAssertEqual(seen.count, 1000)
        XCTAssertLessThanOrEqual(seen.max()! - seen.min()!, 4, "the handler's stack grew with every dispatch")
    }

    func testTheGraceTimersHandlerIsCalledAtTheSameDepthAfterManyBatches() async throws {
        let timer = GraceTimer<Int>(grace: .nanoseconds(0), coalescing: .nanoseconds(0))
        let depths = Mutex<[Int]>([])
        timer.onExpiry { _ in depths.withLock { $0.append(Thread.callStackReturnAddresses.count) } }
        // One item at a time, each in a batch of its own: one read of the handler per batch.
        for item in 0..<300 {
            timer.add(item)
            for _ in 0..<1000 where depths.withLock({ $0.count }) <= item {
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        let seen = depths.withLock { $0 }
        XCTAssertEqual(seen.count, 300)
        XCTAssertLessThanOrEqual(seen.max()! - seen.min()!, 4, "the expiry handler's stack grew with every batch")
    }
}

import NIOCore
@testable import PohmelfsCore
import Synchronization
import XCTest

/// The mount's connection (`ResilientConnection`) sends the requests of one turn of its event
/// loop in one flush: a write-behind step started by each reply of a read, a FUSE pass of many
/// requests. Each flush is a `write(2)` that, on loopback, also runs the server's receive path.
final class RequestFlushTests: XCTestCase {
    /// Counts the flushes that reach the socket (placed next to the pipeline's head).
    private final class FlushCounter: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = NIOAny
        let flushes = Atomic<Int>(0)

        func flush(context: ChannelHandlerContext) {
            self.flushes.add(1, ordering: .relaxed)
            context.flush()
        }
    }

    func testRequestsSentInOneTurnOfTheLoopLeaveInOneFlush() async throws {
        let live = try await LiveServer.start()
        let client = try await live.connectResilient(name: "flushes")
        try await live.cleaningUp(client) {
            let counter = FlushCounter()
            try await client.channel.pipeline.addHandler(counter, position: .first).get()
            let root = client.hello.root.handle
            let count = 50
            let remaining = Countdown(count)
            let answered = client.channel.eventLoop.makePromise(of: Void.self)
            let before = counter.flushes.load(ordering: .relaxed)
            client.channel.eventLoop.execute {
                for _ in 0..<count {
                    client.send(GetattrRequest(handle: root), caller: .root) { result in
                        if case .failure(let error) = result { return answered.fail(error) }
                        if remaining.decrement() { answered.succeed() }
                    }
                }
            }
            try await withDeadline(.seconds(10), "\(count) GETATTRs answered") { try await answered.futureResult.get() }
            let flushes = counter.flushes.load(ordering: .relaxed) - before
            // One for the batch; a heartbeat PING may add its own.
            XCTAssertGreaterThanOrEqual(flushes, 1)
            XCTAssertLessThanOrEqual(flushes, 2, "\(count) requests sent in one turn took \(flushes) flushes")
        }
    }
}

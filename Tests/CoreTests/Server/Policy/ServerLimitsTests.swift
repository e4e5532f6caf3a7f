import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// The server's limits on a live server: connections, requests in flight, the handshake and
/// stall timeouts, and fairness between a flooding client and a quiet one.
final class ServerLimitsTests: XCTestCase {
    /// A raw connection past HELLO, and the export root's handle.
    private func handshake(_ live: LiveServer) async throws -> (RawConnection, ObjectHandle) {
        let raw = try await RawConnection.connect(port: live.port)
        let reply = try await raw.hello()
        XCTAssertEqual(reply.header.status, 0)
        let hello = try HelloResponse.decode(payload: reply.payload)
        return (raw, hello.root.handle)
    }

    /// `count` pipelined GETATTRs of `handle` in one buffer, transactions from `first`.
    private func getattrs(_ count: Int, of handle: ObjectHandle, first: UInt64 = 2) -> ByteBuffer {
        var frames = ByteBuffer()
        for index in 0..<UInt64(count) {
            var frame = FrameEncoding.request(
                GetattrRequest(handle: handle), caller: .root, transaction: TransactionID(first + index),
                allocator: ByteBufferAllocator())
            frames.writeBuffer(&frame)
        }
        return frames
    }

    private func waitForFrames(_ raw: RawConnection, count: Int, timeout: Duration = .seconds(20)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while raw.receivedFrames.count < count {
            guard clock.now < deadline else {
                throw DeadlineExceeded(what: "\(count) frames (got \(raw.receivedFrames.count))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func testConnectionsBeyondTheMaximumAreClosedAtAccept() async throws {
        try await LiveServer.with(configure: { $0.maximumConnections = 2 }) { live, client in
            let second = try await live.connect(name: "second")
            let third = try await RawConnection.connect(port: live.port)
            try await third.waitForClose()
            XCTAssertTrue(third.receivedFrames.isEmpty)
            // The admitted clients are unaffected.
            _ = try await client.createFile("still-served")
            _ = try await second.lookup("still-served")
            // A slot freed is a slot available again.
            await second.close()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            var again: RPCClient?
            while again == nil, clock.now < deadline {
                again = try? await live.connect(name: "again")
                if again == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let fresh = try XCTUnwrap(again, "a freed slot was never reused")
            _ = try await fresh.lookup("still-served")
            await fresh.close()
        }
    }

    func testAClientThatNeverSaysHelloIsDropped() async throws {
        try await LiveServer.with(configure: { $0.helloTimeout = .milliseconds(300) }) { live, client in
            let errorsBefore = live.server.statistics.protocolErrors.load(ordering: .relaxed)
            let silent = try await RawConnection.connect(port: live.port)
            try await silent.waitForClose(timeout: .seconds(5))
            XCTAssertEqual(live.server.statistics.protocolErrors.load(ordering: .relaxed), errorsBefore + 1)
            // A client that did finish HELLO stays connected past the timeout.
            try await Task.sleep(for: .milliseconds(600))
            _ = try await client.createFile("after-timeout")
            let (raw, root) = try await self.handshake(live)
            try await Task.sleep(for: .milliseconds(600))
            try await raw.send(self.getattrs(1, of: root))
            try await self.waitForFrames(raw, count: 2)
            await raw.close()
        }
    }

    func testAClientThatStopsMidFrameIsDroppedButAnIdleOneIsNot() async throws {
        try await LiveServer.with(configure: { $0.stallTimeout = .milliseconds(300) }) { live, client in
            let (staller, root) = try await self.handshake(live)
            var frame = self.getattrs(1, of: root)
            // Half a header, then nothing.
            try await staller.send(frame.readSlice(length: 10)!)
            try await staller.waitForClose(timeout: .seconds(5))

            // A whole header and half the payload, then nothing.
            let (second, _) = try await self.handshake(live)
            var whole = self.getattrs(1, of: root)
            try await second.send(whole.readSlice(length: whole.readableBytes - 3)!)
            try await second.waitForClose(timeout: .seconds(5))

            // Idle between frames is fine; so is a frame sent in pieces that completes in time.
            let (idle, _) = try await self.handshake(live)
            try await Task.sleep(for: .milliseconds(700))
            var pieces = self.getattrs(1, of: root)
            try await idle.send(pieces.readSlice(length: 20)!)
            try await Task.sleep(for: .milliseconds(100))
            try await idle.send(pieces)
            try await self.waitForFrames(idle, count: 2)
            await idle.close()
            _ = try await client.createFile("bystander")
            _ = frame
        }
    }

    func testRequestsBeyondTheInFlightLimitWaitInsteadOfFailing() async throws {
        try await LiveServer.with(configure: { $0.maximumInFlight = 1 }) { live, _ in
            let (raw, root) = try await self.handshake(live)
            try await raw.send(self.getattrs(2000, of: root))
            try await self.waitForFrames(raw, count: 2001)
            let frames = raw.receivedFrames.dropFirst()
            XCTAssertTrue(frames.allSatisfy { $0.header.status == 0 }, "every request answered, none refused")
            XCTAssertEqual(Set(frames.map(\.header.transaction.rawValue)), Set(2..<2002))
            await raw.close()
        }
    }

    func testAFloodingClientDoesNotStarveAnother() async throws {
        try await LiveServer.with(configure: { $0.maximumInFlight = 64 }) { live, client in
            _ = try await client.createFile("target")
            let (flooder, root) = try await self.handshake(live)
            let total = 40_000
            // The flood: thousands of pipelined GETATTRs, sent without waiting for answers.
            let batches = (0..<(total / 2000)).map { self.getattrs(2000, of: root, first: 2 + UInt64($0) * 2000) }
            let flood = Task {
                for batch in batches { try await flooder.send(batch) }
            }
            try await Task.sleep(for: .milliseconds(50))
            let clock = ContinuousClock()
            var answeredBeforeFirstLookup = 0
            for index in 0..<20 {
                let started = clock.now
                _ = try await withDeadline(.seconds(5), "lookup \(index) during the flood") {
                    try await client.lookup("target")
                }
                XCTAssertLessThan(clock.now - started, .seconds(5))
                if index == 0 { answeredBeforeFirstLookup = flooder.receivedFrames.count }
            }
            XCTAssertLessThan(answeredBeforeFirstLookup, total + 1, "the quiet client was served during the flood")
            try await flood.value
            try await self.waitForFrames(flooder, count: total + 1, timeout: .seconds(60))
            await flooder.close()
        }
    }
}

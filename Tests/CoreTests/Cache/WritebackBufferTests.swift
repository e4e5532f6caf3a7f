import NIOCore
import Synchronization
@testable import PohmelfsCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The write-back buffer against a real server: writes absorbed only under the grant, written
/// back coalesced, and a failed writeback reported once to the next fsync or close.
final class WritebackBufferTests: XCTestCase {
    let node = NodeID(2)

    private func write(_ buffer: WritebackBuffer, _ file: FileHandleID, at offset: UInt64, _ bytes: [UInt8])
        -> WritebackBuffer.WriteDecision
    {
        bytes.withUnsafeBytes { buffer.write(self.node, file: file, offset: offset, bytes: $0, caller: .root) }
    }

    private func writeBack(_ buffer: WritebackBuffer, reportsErrors: Bool = true) async -> Errno? {
        await withCheckedContinuation { continuation in
            buffer.writeBack(self.node, reportsErrors: reportsErrors) { continuation.resume(returning: $0) }
        }
    }

    /// Waits (bounded) until the grant the open asked for has arrived.
    private func waitForGrant(_ buffer: WritebackBuffer) async throws {
        for _ in 0..<200 {
            if buffer.state.withLock({ $0.nodes[self.node]?.granted == true }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("no write-back grant")
    }

    /// A new file "f" and a write-back buffer (1 MiB) that holds its grant.
    private func grantedBuffer(_ client: RPCClient) async throws -> (CreateResponse, WritebackBuffer) {
        let created = try await client.createFile(FileName("f"))
        let buffer = WritebackBuffer(client: client, capacity: 1 << 20)
        buffer.opened(created.file, node: self.node, handle: created.entry.handle)
        try await self.waitForGrant(buffer)
        return (created, buffer)
    }

    func testSmallWritesAreBufferedUnderTheGrantAndWrittenBackInOrder() async throws {
        try await LiveServer.with { server, client in
            let (created, buffer) = try await self.grantedBuffer(client)
            var expected: [UInt8] = []
            for index in 0..<64 {
                let block = [UInt8](repeating: UInt8(index), count: 4096)
                guard case .absorbed(mustWait: false) = self.write(buffer, created.file, at: UInt64(index * 4096), block)
                else { return XCTFail("write \(index) was not buffered") }
                expected += block
            }
            XCTAssertEqual(buffer.usage.dirty, 64 * 4096)
            XCTAssertEqual(buffer.cachedBytes(self.node, offset: 4096, size: 10), [UInt8](repeating: 1, count: 10))
            let onServerBefore = try await client.readBytes(created.file)
            XCTAssertEqual(onServerBefore, [], "nothing reaches the server before the writeback")
            let error = await self.writeBack(buffer)
            XCTAssertNil(error)
            XCTAssertEqual(buffer.usage.used, 0)
            let onServer = try await client.readBytes(created.file)
            XCTAssertEqual(onServer, expected)
        }
    }

    func testWritesGoThroughWithoutTheGrant() async throws {
        try await LiveServer.with { server, client in
            let created = try await client.createFile(FileName("f"))
            let reader = try await server.connect(name: "reader")
            _ = try await reader.call(OpenRequest(handle: created.entry.handle, flags: UInt32(O_RDONLY)))
            let buffer = WritebackBuffer(client: client, capacity: 1 << 20)
            buffer.opened(created.file, node: self.node, handle: created.entry.handle)
            // The server refuses: another session has the file open.
            for _ in 0..<100 where buffer.state.withLock({ $0.nodes[self.node]?.grantRequested == true }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            guard case .writeThrough(writeBackFirst: false) = self.write(buffer, created.file, at: 0, [1, 2, 3]) else {
                await reader.close()
                return XCTFail("a write was buffered without the grant")
            }
            await reader.close()
        }
    }

    func testAFailedWritebackIsReportedOnceToTheNextFsync() async throws {
        try await LiveServer.with { server, client in
            let (created, buffer) = try await self.grantedBuffer(client)
            guard case .absorbed = self.write(buffer, created.file, at: 0, [1, 2, 3]) else {
                return XCTFail("not buffered")
            }
            // The handle goes away on the server under the buffer's feet: its WRITE fails.
            _ = try await client.call(ReleaseRequest(file: created.file))
            let timerLike = await self.writeBack(buffer, reportsErrors: false)
            XCTAssertNil(timerLike, "a writeback nobody waits on keeps the error")
            let first = await self.writeBack(buffer)
            XCTAssertEqual(first, .badFileHandle)
            let second = await self.writeBack(buffer)
            XCTAssertNil(second, "reported once")
        }
    }

    func testMemoryPressureMakesTheWriterWait() async throws {
        try await LiveServer.with { server, client in
            let (created, buffer) = try await self.grantedBuffer(client)
            var waited = false
            for index in 0..<200 {
                let decision = self.write(buffer, created.file, at: UInt64(index * 4096), [UInt8](repeating: 7, count: 4096))
                XCTAssertLessThanOrEqual(buffer.usage.used, buffer.usage.capacity)
                if case .absorbed(mustWait: true) = decision {
                    waited = true
                    let error = await self.writeBack(buffer, reportsErrors: false)
                    XCTAssertNil(error)
                }
            }
            XCTAssertTrue(waited, "past half the cache, a writer must wait")
        }
    }

    // MARK: - Streamed writes

    /// Streams `bytes` at `offset`; returns whether it was streamed and whether the answer came
    /// before `stream` returned (answered early).
    private func stream(_ buffer: WritebackBuffer, _ file: FileHandleID, at offset: UInt64, _ bytes: [UInt8])
        -> (streamed: Bool, answeredEarly: Bool)
    {
        let answered = Mutex(false)
        let streamed = bytes.withUnsafeBytes {
            buffer.stream(self.node, file: file, offset: offset, bytes: $0, caller: .root) { error in
                XCTAssertNil(error)
                answered.withLock { $0 = true }
            }
        }
        return (streamed, answered.withLock { $0 })
    }

    func testWholeTransactionWritesAreStreamedAndOnTheServerAfterTheWriteback() async throws {
        try await LiveServer.with { server, client in
            let transaction = Int(client.hello.maximumTransaction)
            let created = try await client.createFile(FileName("f"))
            let buffer = WritebackBuffer(client: client, capacity: 1 << 20)
            buffer.opened(created.file, node: self.node, handle: created.entry.handle)
            let before = self.stream(buffer, created.file, at: 0, [UInt8](repeating: 1, count: transaction))
            XCTAssertFalse(before.streamed, "streamed without the grant")
            try await self.waitForGrant(buffer)
            var expected: [UInt8] = []
            for index in 0..<6 {
                let block = [UInt8](repeating: UInt8(index), count: transaction)
                let result = self.stream(buffer, created.file, at: UInt64(index * transaction), block)
                XCTAssertTrue(result.streamed, "write \(index) was not streamed")
                // The first four fit the budget; the later ones are answered early only if some
                // are answered by then.
                if index < 4 { XCTAssertTrue(result.answeredEarly, "write \(index) was not answered at once") }
                expected += block
            }
            let small = self.stream(buffer, created.file, at: 0, [1, 2, 3])
            XCTAssertFalse(small.streamed, "a write smaller than a transaction is buffered, not streamed")
            XCTAssertEqual(buffer.usage.used, 0, "streamed bytes are not copied into the cache")
            let error = await self.writeBack(buffer)
            XCTAssertNil(error)
            XCTAssertFalse(buffer.hasDirtyPages(of: self.node))
            XCTAssertEqual(buffer.streamedWrites, 6)
            for index in 0..<6 {
                let offset = index * transaction
                let onServer = try await client.readBytes(created.file, at: UInt64(offset), size: UInt32(transaction))
                XCTAssertTrue(
                    onServer[...] == expected[offset..<offset + transaction], "MiB \(index): other bytes than streamed")
            }
        }
    }

    /// A buffered write over a range whose stream is still in flight reaches the server after
    /// the stream: the writeback waits for the node's streams.
    func testABufferedWriteOverAStreamLandsAfterIt() async throws {
        try await LiveServer.with { server, client in
            let transaction = Int(client.hello.maximumTransaction)
            let (created, buffer) = try await self.grantedBuffer(client)
            for round in 0..<8 {
                let offset = UInt64(round * transaction)
                XCTAssertTrue(self.stream(buffer, created.file, at: offset, [UInt8](repeating: 9, count: transaction)).streamed)
                guard case .absorbed = self.write(buffer, created.file, at: offset, [UInt8](repeating: 5, count: 4096))
                else { return XCTFail("not buffered") }
                XCTAssertFalse(
                    self.stream(buffer, created.file, at: offset, [UInt8](repeating: 7, count: transaction)).streamed,
                    "streamed over dirty bytes")
                let error = await self.writeBack(buffer)
                XCTAssertNil(error)
                let onServer = try await client.readBytes(created.file, at: offset, size: UInt32(transaction))
                XCTAssertEqual(onServer.count, transaction)
                XCTAssertTrue(
                    onServer.prefix(4096).allSatisfy { $0 == 5 } && onServer.dropFirst(4096).allSatisfy { $0 == 9 },
                    "round \(round): the stream overtook the later buffered write")
            }
        }
    }

    func testAFailedStreamIsReportedOnceAndStopsStreamingUntilThen() async throws {
        try await LiveServer.with { server, client in
            let transaction = Int(client.hello.maximumTransaction)
            let (created, buffer) = try await self.grantedBuffer(client)
            // The handle goes away on the server under the buffer's feet: its WRITE fails.
            _ = try await client.call(ReleaseRequest(file: created.file))
            let first = self.stream(buffer, created.file, at: 0, [UInt8](repeating: 1, count: transaction))
            XCTAssertTrue(first.streamed && first.answeredEarly)
            let timerLike = await self.writeBack(buffer, reportsErrors: false)
            XCTAssertNil(timerLike, "a writeback nobody waits on keeps the error")
            let next = self.stream(buffer, created.file, at: UInt64(transaction), [UInt8](repeating: 2, count: transaction))
            XCTAssertFalse(next.streamed, "streamed while an error waits to be reported")
            let reported = await self.writeBack(buffer)
            XCTAssertEqual(reported, .badFileHandle)
            let again = await self.writeBack(buffer)
            XCTAssertNil(again, "reported once")
        }
    }

    /// A node the kernel has forgotten leaves nothing behind although the grant is still held:
    /// before, every file written under a grant kept its entry (and its server handle) for the
    /// life of the mount. The kernel forgets a node only after its last release, and a release
    /// comes after the node's last writeback.
    func testAForgottenNodeLeavesNoStateWhileItsGrantIsHeld() async throws {
        try await LiveServer.with { server, client in
            let (created, buffer) = try await self.grantedBuffer(client)
            guard case .absorbed = self.write(buffer, created.file, at: 0, [7, 7, 7]) else {
                return XCTFail("the write was not buffered")
            }
            let error = await self.writeBack(buffer)
            XCTAssertNil(error)
            buffer.released(created.file, node: self.node)
            XCTAssertNotNil(buffer.state.withLock { $0.nodes[self.node] }, "closed, still granted: kept")

            buffer.forget(self.node)
            buffer.state.withLock { state in
                XCTAssertNil(state.nodes[self.node], "the state of a forgotten node was kept")
                XCTAssertTrue(state.handles.isEmpty, "the server handle of a forgotten node is still mapped")
            }
            XCTAssertEqual(buffer.usage.used, 0)
            let onServer = try await client.readBytes(created.file)
            XCTAssertEqual(onServer, [7, 7, 7])

            // A RECALL of the forgotten file is answered at once.
            let answered = Atomic(false)
            buffer.recall(created.entry.handle) { answered.store(true, ordering: .relaxed) }
            XCTAssertTrue(answered.load(ordering: .relaxed), "the RECALL of a forgotten file waited")
        }
    }

    /// A file opened, closed and forgotten before the server answers the grant request that its
    /// open sent: the answer finds nothing holding the node, and its state goes.
    func testANodeForgottenWhileItsGrantIsAskedForLeavesNoState() async throws {
        try await LiveServer.with { server, client in
            let created = try await client.createFile(FileName("f"))
            let buffer = WritebackBuffer(client: client, capacity: 1 << 20)
            buffer.opened(created.file, node: self.node, handle: created.entry.handle)
            // The answer takes a round trip; these take microseconds.
            buffer.released(created.file, node: self.node)
            buffer.forget(self.node)
            let asking = buffer.state.withLock { $0.nodes[self.node]?.grantRequested == true }
            XCTAssertTrue(asking, "the grant was answered before the file was forgotten: nothing to test")
            for _ in 0..<200 where buffer.state.withLock({ $0.nodes[self.node] != nil }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            buffer.state.withLock { state in
                XCTAssertNil(state.nodes[self.node], "the state of a node forgotten while asking was kept")
                XCTAssertTrue(state.handles.isEmpty, "the server handle of a forgotten node is still mapped")
            }
        }
    }
}

import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Client-library figures against a live server on loopback: GETATTR round-trip latency and
/// 1 MiB WRITE/READ throughput with several requests in flight. Not a timed test: it asserts
/// nothing about speed and only runs with `POHMELFS_BENCH=1`, printing one line per figure
/// (MB is 10^6 bytes).
final class ClientLibraryBenchmark: XCTestCase {
    static let latencySamples = 10_000
    static let requestSize = 1 << 20
    static let totalBytes = 512 << 20
    static let inFlight = 8

    override func setUp() async throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["POHMELFS_BENCH"] == "1", "set POHMELFS_BENCH=1 to run")
    }

    func testClientLibraryLatencyAndThroughput() async throws {
        try await LiveServer.with { _, client in
            try await self.measureGetattrLatency(client)
            let created = try await client.createFile("bench")
            try await self.measureThroughput(client, file: created.file, write: true)
            try await self.measureThroughput(client, file: created.file, write: false)
        }
    }

    /// Sequential GETATTRs of the root: p50 and p99 round trip in microseconds.
    private func measureGetattrLatency(_ client: RPCClient) async throws {
        let clock = ContinuousClock()
        let request = GetattrRequest(handle: client.root)
        for _ in 0..<500 { _ = try await client.call(request) }  // warm-up
        var samples: [Duration] = []
        samples.reserveCapacity(Self.latencySamples)
        for _ in 0..<Self.latencySamples {
            let start = clock.now
            _ = try await client.call(request)
            samples.append(clock.now - start)
        }
        samples.sort()
        func microseconds(_ quantile: Double) -> Double {
            let sample = samples[min(samples.count - 1, Int(Double(samples.count) * quantile))]
            return Double(sample.components.seconds) * 1e6 + Double(sample.components.attoseconds) / 1e12
        }
        print(String(format: "rpc getattr p50=%.1fus p99=%.1fus (n=%d)", microseconds(0.50), microseconds(0.99), samples.count))
    }

    /// 512 MiB in 1 MiB WRITEs (or READs), `inFlight` requests outstanding at a time.
    private func measureThroughput(_ client: RPCClient, file: FileHandleID, write: Bool) async throws {
        let requests = Self.totalBytes / Self.requestSize
        var payload = ByteBuffer()
        payload.writeBytes(pattern(Self.requestSize, seed: 1))
        let data = payload
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<Self.inFlight {
                group.addTask {
                    for index in stride(from: worker, to: requests, by: Self.inFlight) {
                        let offset = UInt64(index * Self.requestSize)
                        if write {
                            let reply = try await client.call(WriteRequest(file: file, offset: offset, data: data))
                            guard reply.count == UInt64(Self.requestSize) else { throw Errno.io }
                        } else {
                            let reply = try await client.call(
                                ReadRequest(file: file, offset: offset, size: UInt32(Self.requestSize)))
                            guard reply.data.readableBytes == Self.requestSize else { throw Errno.io }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            String(
                format: "rpc %@ 1MiB MB/s=%.0f (%d MiB, %d in flight, %.2fs)", write ? "write" : "read",
                Double(Self.totalBytes) / seconds / 1e6, Self.totalBytes >> 20, Self.inFlight, seconds))
    }
}

import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import XCTest

@testable import PohmelfsCore

final class ServerMetricsTests: XCTestCase {
    /// The value of the sample `series` (name plus labels, as exposed) in `text`, if present.
    private func sample(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func testEveryRequestOpcodeIsExposedFromTheStartWithHelpAndType() {
        let metrics = ServerMetrics()
        let text = metrics.registry.exposition()
        XCTAssertEqual(self.sample(#"pohmelfs_requests_total{opcode="READ"}"#, in: text), 0)
        XCTAssertEqual(self.sample(#"pohmelfs_requests_total{opcode="SETLK"}"#, in: text), 0)
        XCTAssertNil(self.sample(#"pohmelfs_requests_total{opcode="HELLO"}"#, in: text))
        XCTAssertEqual(self.sample("pohmelfs_connected_clients", in: text), 0)
        XCTAssertEqual(self.sample(#"pohmelfs_locks_held{kind="posix"}"#, in: text), 0)
        for name in MetricName.allCases {
            XCTAssertTrue(text.contains("# HELP \(name.rawValue) \(name.help)\n"), "no HELP for \(name.rawValue)")
            XCTAssertTrue(text.contains("# TYPE \(name.rawValue) "), "no TYPE for \(name.rawValue)")
        }
    }

    func testRequestsBytesErrorsAndClientsFollowWhatClientsDo() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pohmelfs-metrics-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let export = base.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        let store = try LocalDirectoryStore(
            export: export.path, stateDirectory: base.appendingPathComponent("state").path)
        var logger = Logger(label: "test.metrics")
        logger.logLevel = .critical
        let metrics = ServerMetrics()
        var configuration = PohmelfsServer<LocalDirectoryStore>.Configuration(host: "127.0.0.1", port: 0, ioThreads: 2)
        configuration.metrics = metrics
        let server = try await PohmelfsServer.start(
            store: store, configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let client = try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: server.localAddress.port!)], clientName: "metrics-test",
            group: MultiThreadedEventLoopGroup.singleton)

        let root = client.hello.root.handle
        let created = try await client.call(
            CreateRequest(parent: root, name: "data", mode: 0o644, flags: UInt32(O_RDWR)))
        var data = ByteBuffer()
        data.writeBytes(Array(repeating: UInt8(7), count: 5000))
        _ = try await client.call(WriteRequest(file: created.file, offset: 0, data: data))
        _ = try await client.call(WriteRequest(file: created.file, offset: 5000, data: data))
        let read = try await client.call(ReadRequest(file: created.file, offset: 0, size: 8192))
        XCTAssertEqual(read.data.readableBytes, 8192)
        do {
            _ = try await client.call(LookupRequest(parent: root, name: "missing"))
            XCTFail("LOOKUP of a missing name succeeded")
        } catch {}

        metrics.refresh()
        var text = metrics.registry.exposition()
        XCTAssertEqual(self.sample(#"pohmelfs_requests_total{opcode="WRITE"}"#, in: text), 2)
        XCTAssertEqual(self.sample(#"pohmelfs_requests_total{opcode="READ"}"#, in: text), 1)
        XCTAssertEqual(self.sample(#"pohmelfs_requests_total{opcode="CREATE"}"#, in: text), 1)
        // A missing name is an expected negative answer, not an error.
        XCTAssertEqual(
            self.sample(#"pohmelfs_request_negative_answers_total{opcode="LOOKUP",errno="ENOENT"}"#, in: text), 1)
        XCTAssertEqual(self.sample(#"pohmelfs_request_errors_total{opcode="LOOKUP",errno="EIO"}"#, in: text), 0)
        XCTAssertEqual(self.sample(#"pohmelfs_request_errors_total{opcode="WRITE",errno="EIO"}"#, in: text), 0)
        XCTAssertEqual(self.sample("pohmelfs_written_bytes_total", in: text), 10000)
        XCTAssertEqual(self.sample("pohmelfs_read_bytes_total", in: text), 8192)
        XCTAssertEqual(self.sample(#"pohmelfs_request_duration_seconds_count{opcode="WRITE"}"#, in: text), 2)
        XCTAssertEqual(self.sample(#"pohmelfs_request_duration_seconds_bucket{opcode="WRITE",le="+Inf"}"#, in: text), 2)
        XCTAssertEqual(self.sample("pohmelfs_connected_clients", in: text), 1)

        await client.close()
        // The disconnect reaches the server's event loop shortly after the close.
        for _ in 0..<200 where server.statistics.connections.load(ordering: .relaxed) != 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        metrics.refresh()
        text = metrics.registry.exposition()
        XCTAssertEqual(self.sample("pohmelfs_connected_clients", in: text), 0)
        await server.shutdown(gracePeriod: .seconds(2))
    }

    func testHandlerServesTheExpositionAtMetricsOnly() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(render: { "pohmelfs_up 1\n" }))

        func request(_ method: HTTPMethod, _ uri: String) throws -> (HTTPResponseHead, String) {
            try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri)))
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
            guard case .head(let head)? = try channel.readOutbound(as: HTTPServerResponsePart.self) else {
                throw XCTSkip("no response head")
            }
            var body = ""
            while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
                if case .body(.byteBuffer(let buffer)) = part { body += String(buffer: buffer) }
                if case .end = part { break }
            }
            return (head, body)
        }

        let (ok, body) = try request(.GET, "/metrics?x=1")
        XCTAssertEqual(ok.status, .ok)
        XCTAssertEqual(ok.headers["Content-Type"].first, MetricsHTTPHandler.contentType)
        XCTAssertEqual(ok.headers["Content-Length"].first, "\(body.utf8.count)")
        XCTAssertEqual(body, "pohmelfs_up 1\n")
        let (head, headBody) = try request(.HEAD, "/metrics")
        XCTAssertEqual(head.status, .ok)
        XCTAssertEqual(headBody, "")
        XCTAssertEqual(try request(.GET, "/").0.status, .notFound)
        let (post, _) = try request(.POST, "/metrics")
        XCTAssertEqual(post.status, .methodNotAllowed)
        XCTAssertEqual(post.headers["Allow"].first, "GET, HEAD")
    }
}

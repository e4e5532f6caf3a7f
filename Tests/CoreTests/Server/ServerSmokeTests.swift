import NIOCore
import PohmelfsCore
import XCTest

final class ServerSmokeTests: XCTestCase {
    func testCreateWriteReadThroughClientLibrary() async throws {
        let live = try await LiveServer.start()
        let client = try await live.connect()
        let root = client.hello.root.handle
        let created = try await client.call(CreateRequest(parent: root, name: "hello.txt", mode: 0o644, flags: UInt32(O_RDWR)))
        var data = ByteBuffer()
        data.writeString("hello, pohmelfs")
        let written = try await client.call(WriteRequest(file: created.file, offset: 0, data: data))
        XCTAssertEqual(written.count, 15)
        let read = try await client.call(ReadRequest(file: created.file, offset: 7, size: 100))
        XCTAssertEqual(String(buffer: read.data), "pohmelfs")
        let entry = try await client.call(LookupRequest(parent: root, name: "hello.txt"))
        XCTAssertEqual(entry.handle, created.entry.handle)
        XCTAssertEqual(entry.attributes.size, 15)
        let onDisk = try String(contentsOf: live.export.appendingPathComponent("hello.txt"), encoding: .utf8)
        XCTAssertEqual(onDisk, "hello, pohmelfs")
        await client.close()
        await live.stop()
    }
}

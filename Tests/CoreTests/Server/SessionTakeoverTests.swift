import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// A session belongs to its client: the session id and client name (which `pohmelfs locks`
/// shows) resume nothing without the secret the server gave that client at HELLO.
final class SessionTakeoverTests: XCTestCase {
    private func hello(_ raw: RawConnection, resuming session: SessionID, secret: [UInt8]?) async throws -> HelloResponse {
        var request = HelloRequest(capabilities: secret == nil ? [] : [.sessionSecret], clientName: "test-client")
        request.resumeSession = session
        request.resumeSecret = secret ?? []
        return try await raw.call(request, transaction: 1)
    }

    func testASessionIdReadFromTheLockTableDoesNotResumeAnotherClientsSession() async throws {
        try await LiveServer.with { live, victim in
            let created = try await victim.createFile("victims-file", contents: Array("private".utf8))
            _ = try await victim.call(
                SetlkRequest(file: created.file, owner: LockOwner(1), flavor: .posix, type: .write, range: .wholeFile, pid: 1, wait: false))
            let table = try await victim.call(LockTableRequest())
            XCTAssertEqual(table.entries.count, 1)
            let session = victim.hello.session
            for secret in [nil, [UInt8](repeating: 0, count: 32), Array(victim.hello.sessionSecret.reversed())] {
                let raw = try await RawConnection.connect(port: live.port)
                let hello = try await self.hello(raw, resuming: session, secret: secret)
                XCTAssertFalse(hello.resumed, "a resume without the session's secret must be refused")
                XCTAssertNotEqual(hello.session, session)
                // The stranger's new session has none of the victim's open files.
                do {
                    _ = try await raw.call(ReadRequest(file: created.file, offset: 0, size: 16), transaction: 2)
                    XCTFail("the stranger read through the victim's open file")
                } catch let error as Errno {
                    XCTAssertEqual(error, Errno.badFileHandle)
                }
                await raw.close()
            }
            // The victim's connection was never taken over.
            let contents = try await victim.readBytes(created.file)
            XCTAssertEqual(contents, Array("private".utf8))
        }
    }

    func testTheClientThatHoldsTheSecretResumesItsSession() async throws {
        try await LiveServer.with { live, client in
            XCTAssertEqual(client.hello.sessionSecret.count, 32, "a 256-bit secret")
            let raw = try await RawConnection.connect(port: live.port)
            let hello = try await self.hello(raw, resuming: client.hello.session, secret: client.hello.sessionSecret)
            XCTAssertTrue(hello.resumed)
            XCTAssertEqual(hello.session, client.hello.session)
            await raw.close()
        }
    }

    func testTheSecretFieldsTravelOnlyWithTheSessionSecretCapability() throws {
        var request = HelloRequest(capabilities: [.sessionSecret], clientName: "c", resumeSession: SessionID(5))
        request.resumeSecret = Array(repeating: 7, count: 32)
        var buffer = ByteBuffer()
        request.encode(into: &buffer)
        XCTAssertEqual(try HelloRequest.decode(payload: buffer), request)
        var plain = HelloRequest(clientName: "c", resumeSession: SessionID(5))
        plain.resumeSecret = Array(repeating: 7, count: 32)
        var plainBuffer = ByteBuffer()
        plain.encode(into: &plainBuffer)
        XCTAssertEqual(plainBuffer.readableBytes, buffer.readableBytes - 36, "no secret without the capability")
        let root = WireSamples.directoryEntry
        var response = HelloResponse(
            version: 1, capabilities: [.sessionSecret], maximumTransaction: 1 << 20, session: SessionID(5), root: root)
        response.sessionSecret = Array(repeating: 9, count: 32)
        var responseBuffer = ByteBuffer()
        response.encode(into: &responseBuffer)
        XCTAssertEqual(try HelloResponse.decode(payload: responseBuffer), response)
    }
}

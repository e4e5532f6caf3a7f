import Foundation
import NIOCore
import NIOPosix
import PohmelfsCore
import XCTest

/// TLS and authentication through the real server and client library on loopback: generated
/// material, both authentication methods, and every refusal with its message.
final class TLSServerTests: XCTestCase {
    private var base: String!

    override func setUpWithError() throws {
        self.base = NSTemporaryDirectory() + "pohmelfs-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.base, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: self.base)
    }

    /// A generated server directory named `name` under the test's base.
    private func material(_ name: String) throws -> TLSDirectory {
        let directory = TLSDirectory(self.base + "/" + name)
        XCTAssertTrue(try TLSMaterialGenerator.generateIfMissing(in: directory, serverNames: ["localhost", "127.0.0.1"]))
        return directory
    }

    /// Runs `body` against a server with `security`, stopping it afterwards.
    private func withServer(
        _ security: ServerSecurity, _ body: (LiveServer) async throws -> Void
    ) async throws {
        let live = try await LiveServer.start { $0.security = security }
        do {
            try await body(live)
        } catch {
            await live.stop()
            throw error
        }
        await live.stop()
    }

    private func connect(_ live: LiveServer, _ bundle: TLSDirectory?) async throws -> RPCClient {
        try await RPCClient.connect(
            servers: [ServerAddress(host: "127.0.0.1", port: live.port)], clientName: "tls-test", group: MultiThreadedEventLoopGroup.singleton,
            security: try bundle.map { try ClientSecurity(directory: $0) })
    }

    /// Asserts that connecting with `bundle` fails with a `SecurityError` of `code` whose message
    /// contains `text`.
    private func assertRefused(
        _ live: LiveServer, _ bundle: TLSDirectory?, _ code: SecurityError.Code, _ text: String,
        file: StaticString = #filePath, line: UInt = #line
    ) async {
        do {
            let client = try await self.connect(live, bundle)
            await client.close()
            XCTFail("connected, expected \(code)", file: file, line: line)
        } catch let error as SecurityError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            XCTAssertTrue(error.message.contains(text), "\(error.message)", file: file, line: line)
            XCTAssertFalse(error.message.contains("\n"), file: file, line: line)
        } catch {
            XCTFail("expected SecurityError \(code), got \(error)", file: file, line: line)
        }
    }

    func testGeneratedDirectoryHasPrivateKeysAndIsNotRegenerated() throws {
        let directory = try self.material("server")
        for path in [directory.caKey, directory.serverKey, directory.secret, directory.clientBundle.clientKey,
            directory.clientBundle.secret]
        {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o600, path)
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: directory.caCertificate))
        XCTAssertFalse(try TLSMaterialGenerator.generateIfMissing(in: directory, serverNames: ["other"]))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory.caCertificate)), before)
    }

    func testCertificateAuthenticationServesRequestsAndTheLockTable() async throws {
        let directory = try self.material("server")
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .certificate)) { live in
            let client = try await self.connect(live, directory.clientBundle)
            defer { Task { await client.close() } }
            _ = try await client.call(GetattrRequest(handle: client.hello.root.handle))
            _ = try await client.call(LockTableRequest())
        }
    }

    func testSecretAuthenticationServesRequestsWithoutAClientCertificate() async throws {
        let directory = try self.material("server")
        let bundle = directory.clientBundle
        try FileManager.default.removeItem(atPath: bundle.clientCertificate)
        try FileManager.default.removeItem(atPath: bundle.clientKey)
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .secret)) { live in
            let client = try await self.connect(live, bundle)
            defer { Task { await client.close() } }
            _ = try await client.call(LockTableRequest())
        }
    }

    func testWrongSecretIsRefused() async throws {
        let directory = try self.material("server")
        let bundle = directory.clientBundle
        try FileManager.default.removeItem(atPath: bundle.secret)
        FileManager.default.createFile(
            atPath: bundle.secret, contents: Data("not the secret\n".utf8), attributes: [.posixPermissions: 0o600])
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .secret)) { live in
            await self.assertRefused(live, bundle, .authenticationFailed, "rejected the shared secret")
        }
    }

    func testMissingSecretIsRefusedWhenTheServerRequiresOne() async throws {
        let directory = try self.material("server")
        let bundle = directory.clientBundle
        try FileManager.default.removeItem(atPath: bundle.secret)
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .secret)) { live in
            await self.assertRefused(live, bundle, .authenticationFailed, "requires a shared secret")
        }
    }

    func testPlaintextClientIsToldTheServerRequiresTLS() async throws {
        let directory = try self.material("server")
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .certificate)) { live in
            await self.assertRefused(live, nil, .authenticationFailed, "requires TLS and authentication")
        }
    }

    func testClientCertificateOfAnotherCAIsRefused() async throws {
        let directory = try self.material("server")
        let stranger = try self.material("stranger")
        // Trusts the right server, but its certificate comes from another CA.
        let mixed = TLSDirectory(self.base + "/mixed")
        try FileManager.default.createDirectory(atPath: mixed.path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: directory.clientBundle.caCertificate, toPath: mixed.caCertificate)
        try FileManager.default.copyItem(atPath: stranger.clientBundle.clientCertificate, toPath: mixed.clientCertificate)
        try FileManager.default.copyItem(atPath: stranger.clientBundle.clientKey, toPath: mixed.clientKey)
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .certificate)) { live in
            await self.assertRefused(live, mixed, .authenticationFailed, "rejected the client certificate")
        }
    }

    func testServerCertificateTheClientDoesNotTrustIsRefused() async throws {
        let directory = try self.material("server")
        let stranger = try self.material("stranger")
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .secret)) { live in
            await self.assertRefused(live, stranger.clientBundle, .untrustedServer, "is not trusted")
        }
    }

    func testAClientThatNeverFinishesTheTLSHandshakeIsDropped() async throws {
        let directory = try self.material("server")
        let security = try ServerSecurity(directory: directory, authentication: .certificate)
        let live = try await LiveServer.start {
            $0.security = security
            $0.helloTimeout = .milliseconds(300)
        }
        do {
            let raw = try await RawConnection.connect(port: live.port)
            // The first bytes of a TLS record header, then silence.
            try await raw.send(ByteBuffer(bytes: [0x16, 0x03, 0x01]))
            try await raw.waitForClose(timeout: .seconds(10))
            XCTAssertTrue(raw.receivedFrames.isEmpty)
        } catch {
            await live.stop()
            throw error
        }
        await live.stop()
    }

    func testAPlaintextLockTableRequestIsRefusedWithoutAnswer() async throws {
        let directory = try self.material("server")
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .secret)) { live in
            let raw = try await RawConnection.connect(port: live.port)
            try await raw.send(
                FrameEncoding.request(
                    LockTableRequest(), caller: .root, transaction: TransactionID(5), allocator: raw.channel.allocator))
            try await raw.waitForClose(timeout: .seconds(10))
            // One frame: ENOKEY (credentials required) for that transaction, no lock table.
            let frames = raw.receivedFrames
            XCTAssertEqual(frames.count, 1)
            XCTAssertEqual(frames.first?.header.status, UInt32(ENOKEY))
            XCTAssertEqual(frames.first?.header.transaction, TransactionID(5))
            XCTAssertEqual(frames.first?.payload.readableBytes, 0)
        }
    }

    func testACertificateServerRefusesAClientWithOnlyASecret() async throws {
        let directory = try self.material("server")
        let bundle = directory.clientBundle
        try FileManager.default.removeItem(atPath: bundle.clientCertificate)
        try FileManager.default.removeItem(atPath: bundle.clientKey)
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .certificate)) { live in
            await self.assertRefused(live, bundle, .authenticationFailed, "requires a client certificate")
        }
    }

    func testAServerCertificateForAnotherNameIsRefused() async throws {
        let directory = TLSDirectory(self.base + "/named")
        try TLSMaterialGenerator.generateIfMissing(in: directory, serverNames: ["fileserver.example"])
        try await self.withServer(try ServerSecurity(directory: directory, authentication: .certificate)) { live in
            await self.assertRefused(live, directory.clientBundle, .untrustedServer, "not issued for that host")
        }
    }

    func testTLSClientAgainstAPlainServerFailsClearly() async throws {
        let directory = try self.material("server")
        let live = try await LiveServer.start()
        await self.assertRefused(live, directory.clientBundle, .handshakeFailed, "does it serve TLS")
        await live.stop()
    }
}

import CLinux
import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// Extended attributes against a live server: set, get, list, remove, the size-0 length query,
/// ERANGE, ENODATA and the create/replace flags.
final class XattrOperationsTests: XCTestCase {
    private let alpha = Array("user.alpha".utf8)
    private let beta = Array("user.beta".utf8)

    /// The value of `name` on disk, read with getxattr(2) outside the protocol.
    private func onDiskXattr(_ path: String, _ name: String) -> [UInt8]? {
        var value = [UInt8](repeating: 0, count: 4096)
        let length = value.withUnsafeMutableBytes { CLinux.getxattr(path, name, $0.baseAddress, $0.count) }
        return length < 0 ? nil : Array(value.prefix(length))
    }

    func testSetGetListAndRemove() async throws {
        try await LiveServer.with { live, client in
            let handle = try await client.createFile("f").entry.handle
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [1, 2, 3], flags: 0))
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.beta, value: Array("hello".utf8), flags: 0))
            XCTAssertEqual(self.onDiskXattr(live.path("f"), "user.alpha"), [1, 2, 3])

            let got = try await client.call(GetxattrRequest(handle: handle, name: self.alpha, size: 64))
            XCTAssertEqual(got, XattrResponse(size: 3, value: [1, 2, 3]))

            let list = try await client.call(ListxattrRequest(handle: handle, size: 1024))
            XCTAssertEqual(Int(list.size), list.value.count)
            let names = Set(list.value.split(separator: 0).map { String(decoding: $0, as: UTF8.self) })
            XCTAssertTrue(names.isSuperset(of: ["user.alpha", "user.beta"]), "\(names)")

            _ = try await client.call(RemovexattrRequest(handle: handle, name: self.alpha))
            XCTAssertNil(self.onDiskXattr(live.path("f"), "user.alpha"))
            await XCTAssertErrno(.noData, try await client.call(GetxattrRequest(handle: handle, name: self.alpha, size: 64)))
            await XCTAssertErrno(.noData, try await client.call(RemovexattrRequest(handle: handle, name: self.alpha)))
        }
    }

    func testSizeZeroAsksForTheLengthOnly() async throws {
        try await LiveServer.with { _, client in
            let handle = try await client.createFile("f").entry.handle
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: Array(repeating: 7, count: 300), flags: 0))
            let length = try await client.call(GetxattrRequest(handle: handle, name: self.alpha, size: 0))
            XCTAssertEqual(length, XattrResponse(size: 300, value: []))
            let listLength = try await client.call(ListxattrRequest(handle: handle, size: 0))
            let list = try await client.call(ListxattrRequest(handle: handle, size: listLength.size))
            XCTAssertEqual(listLength.value, [])
            XCTAssertEqual(Int(listLength.size), list.value.count)
        }
    }

    func testTooSmallBufferIsERANGE() async throws {
        try await LiveServer.with { _, client in
            let handle = try await client.createFile("f").entry.handle
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [1, 2, 3], flags: 0))
            await XCTAssertErrno(.range, try await client.call(GetxattrRequest(handle: handle, name: self.alpha, size: 2)))
            await XCTAssertErrno(.range, try await client.call(ListxattrRequest(handle: handle, size: 1)))
        }
    }

    func testCreateAndReplaceFlags() async throws {
        try await LiveServer.with { live, client in
            let handle = try await client.createFile("f").entry.handle
            let create = UInt32(XATTR_CREATE)
            let replace = UInt32(XATTR_REPLACE)
            await XCTAssertErrno(.noData, try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [1], flags: replace)))
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [1], flags: create))
            await XCTAssertErrno(.exists, try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [2], flags: create)))
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [3], flags: replace))
            XCTAssertEqual(self.onDiskXattr(live.path("f"), "user.alpha"), [3])
        }
    }

    func testEmptyValueAndDirectoryTargetWork() async throws {
        try await LiveServer.with { live, client in
            let directory = try await client.mkdir("d")
            _ = try await client.call(SetxattrRequest(handle: directory.handle, name: self.alpha, value: [], flags: 0))
            XCTAssertEqual(self.onDiskXattr(live.path("d"), "user.alpha"), [])
            let got = try await client.call(GetxattrRequest(handle: directory.handle, name: self.alpha, size: 10))
            XCTAssertEqual(got, XattrResponse(size: 0, value: []))
        }
    }

    func testInvalidNamesAreRefused() async throws {
        try await LiveServer.with { _, client in
            let handle = try await client.createFile("f").entry.handle
            await XCTAssertErrno(.invalid, try await client.call(SetxattrRequest(handle: handle, name: [], value: [1], flags: 0)))
            await XCTAssertErrno(.invalid, try await client.call(GetxattrRequest(handle: handle, name: [0x75, 0, 0x61], size: 1)))
            await XCTAssertErrno(.notSupported, try await client.call(SetxattrRequest(handle: handle, name: Array("bogus.ns".utf8), value: [1], flags: 0)))
        }
    }

    func testCallerWithoutWritePermissionCannotSetXattrs() async throws {
        try XCTSkipUnless(geteuid() == 0, "acting as other users needs root")
        try await LiveServer.with { _, client in
            let handle = try await client.createFile("f", mode: 0o644).entry.handle
            let nobody = Caller(uid: 65534, gid: 65534)
            _ = try await client.call(SetxattrRequest(handle: handle, name: self.alpha, value: [1], flags: 0))
            await XCTAssertErrno(.accessDenied, try await client.call(SetxattrRequest(handle: handle, name: self.beta, value: [1], flags: 0), caller: nobody))
            let got = try await client.call(GetxattrRequest(handle: handle, name: self.alpha, size: 8), caller: nobody)
            XCTAssertEqual(got.value, [1])
        }
    }
}

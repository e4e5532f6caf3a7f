import Foundation
import Synchronization
import XCTest

@testable import PohmelfsCore

/// One handle key for every server of an export: created once, race-free, read by all.
final class HandleKeyTests: XCTestCase {
    private func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("handle-key-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func testServersStartingTogetherAgreeOnOneKey() throws {
        let path = try self.scratch().appendingPathComponent("shared-key").path
        let keys = Mutex<[[UInt8]]>([])
        DispatchQueue.concurrentPerform(iterations: 16) { _ in
            let key = try? HandleKey.loadOrCreate(from: HandleKeyFile(path: path))
            keys.withLock { $0.append(key ?? []) }
        }
        let all = keys.withLock { $0 }
        XCTAssertEqual(all.count, 16)
        XCTAssertEqual(Set(all).count, 1, "every server got the same key")
        XCTAssertEqual(all[0].count, HandleKey.length)
        XCTAssertEqual(try HandleKeyFile(path: path).read(), all[0])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
        XCTAssertEqual(leftovers, ["shared-key"], "no temporary file is left behind")
    }

    func testADamagedKeyIsRefusedWithItsPath() throws {
        let path = try self.scratch().appendingPathComponent("key").path
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 1, count: 40))
        XCTAssertThrowsError(try HandleKey.loadOrCreate(from: HandleKeyFile(path: path))) { error in
            XCTAssertTrue("\(error)".contains("\(path) is damaged"), "\(error)")
        }
    }

    func testTwoStoresSharingAKeyAcceptEachOthersHandles() throws {
        let base = try self.scratch()
        let export = base.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: export.appendingPathComponent("f").path, contents: Data("x".utf8))
        let key = try HandleKey.loadOrCreate(from: HandleKeyFile(path: base.appendingPathComponent("key").path))
        let a = try LocalDirectoryStore(export: export.path, stateDirectory: base.appendingPathComponent("a").path, handleKey: key)
        let b = try LocalDirectoryStore(export: export.path, stateDirectory: base.appendingPathComponent("b").path, handleKey: key)
        let entry = try a.lookup(LookupRequest(parent: try a.rootEntry().handle, name: "f"), caller: .root)
        XCTAssertEqual(try b.getattr(GetattrRequest(handle: entry.handle), caller: .root).size, 1)
        let other = try LocalDirectoryStore(export: export.path, stateDirectory: base.appendingPathComponent("c").path)
        XCTAssertThrowsError(try other.getattr(GetattrRequest(handle: entry.handle), caller: .root), "a server with another key refuses the handle")
    }
}

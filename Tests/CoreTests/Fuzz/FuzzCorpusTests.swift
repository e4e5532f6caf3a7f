import Foundation
import NIOCore
import PohmelfsCore
import XCTest

/// The fuzz corpus as regression tests (`make test`, no fuzzer build needed): every committed
/// seed in `Tests/Fuzz/corpus/` and every input that ever crashed, in `Tests/Fuzz/crashes/`,
/// goes through the frame decoder and through a live server's request path, plus a fixed set of
/// deterministic mutations of the seeds. Nothing may crash; the server answers or closes the
/// connection, and keeps serving a well-behaved client.
///
/// `POHMELFS_WRITE_FUZZ_CORPUS=1 swift test --filter FuzzCorpusTests` regenerates the seeds
/// from `WireSamples` (one frame per request opcode, plus a pipelined pair).
final class FuzzCorpusTests: XCTestCase {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    /// Every replayed input: the corpus and the crashes.
    private func inputs() throws -> [(String, [UInt8])] {
        var result: [(String, [UInt8])] = []
        for folder in ["corpus", "crashes"] {
            let directory = Self.fuzzDirectory.appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let data = try Data(contentsOf: directory.appendingPathComponent(name))
                result.append(("\(folder)/\(name)", Array(data)))
            }
        }
        return result
    }

    func testWriteCorpusSeedsWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["POHMELFS_WRITE_FUZZ_CORPUS"] == "1" else {
            throw XCTSkip("set POHMELFS_WRITE_FUZZ_CORPUS=1 to regenerate Tests/Fuzz/corpus")
        }
        let directory = Self.fuzzDirectory.appendingPathComponent("corpus")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var all = ByteBuffer()
        for (opcode, message) in WireSamples.requestSamples.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            var frame = FrameEncoding.frame(
                header: MessageHeader(opcode: opcode, transaction: TransactionID(UInt64(opcode.rawValue))),
                allocator: ByteBufferAllocator()
            ) { buffer in
                WireSamples.caller.encode(into: &buffer)
                message.encode(into: &buffer)
            }
            try Data(frame.readableBytesView).write(to: directory.appendingPathComponent("request-\(opcode)"))
            if opcode != .hello { all.writeBuffer(&frame) }
        }
        try Data(all.readableBytesView).write(to: directory.appendingPathComponent("pipelined-all"))
    }

    func testCorpusAndCrashesDecodeWithoutCrashing() throws {
        let inputs = try self.inputs()
        XCTAssertGreaterThan(inputs.count, 30, "the corpus is missing")
        var frames = 0
        for (_, bytes) in inputs { frames += WireFuzzing.decodeAll(bytes) }
        XCTAssertGreaterThan(frames, 30, "the seeds should decode")
    }

    func testDeterministicMutationsDecodeWithoutCrashing() throws {
        let inputs = try self.inputs()
        var generator = SplitMix64(seed: 0x5EC0_7E57)
        for _ in 0..<20_000 {
            let (_, seed) = inputs[Int.random(in: 0..<inputs.count, using: &generator)]
            WireFuzzing.decodeAll(Self.mutate(seed, using: &generator))
        }
    }

    func testCorpusCrashesAndMutationsAgainstALiveServer() async throws {
        let inputs = try self.inputs()
        var generator = SplitMix64(seed: 0xF0_22ED)
        var cases = inputs.map { $0.1 }
        for _ in 0..<150 {
            cases.append(Self.mutate(inputs[Int.random(in: 0..<inputs.count, using: &generator)].1, using: &generator))
        }
        try await LiveServer.with(configure: { $0.stallTimeout = .milliseconds(200) }) { live, client in
            _ = try await client.createFile("canary")
            for bytes in cases {
                let raw = try await RawConnection.connect(port: live.port)
                _ = try await raw.hello()
                try await raw.send(ByteBuffer(bytes: bytes))
                // Answered or closed: either is fine; give the server a moment, then move on.
                try? await raw.waitForClose(timeout: .milliseconds(40))
                await raw.close()
            }
            let entry = try await client.lookup("canary")
            XCTAssertTrue(entry.attributes.isRegularFile, "the server stopped serving")
            // Nothing appeared outside the export.
            let parent = live.export.deletingLastPathComponent().path
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent).sorted(), ["export", "state"])
        }
    }

    /// One of a few libFuzzer-like mutations: flip bits, overwrite bytes with boundary values,
    /// insert or erase ranges, splice the header's length field.
    static func mutate(_ seed: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        var bytes = seed.isEmpty ? [0] : seed
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0:
                bytes[index] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1:
                bytes[index] = [0, 1, 0x7F, 0x80, 0xFF].randomElement(using: &generator)!
            case 2:
                let count = Int.random(in: 1...16, using: &generator)
                bytes.insert(contentsOf: (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }, at: index)
            case 3:
                let end = min(bytes.count, index + Int.random(in: 1...16, using: &generator))
                bytes.removeSubrange(index..<end)
                if bytes.isEmpty { bytes = [0] }
            case 4:
                bytes = Array(bytes.prefix(index))
                if bytes.isEmpty { bytes = [0] }
            default:
                // The payload length field sits at bytes 20..<24 of the header.
                if bytes.count >= 24 {
                    let value = [UInt32(0), 1, 0xFFFF, 0x10_0000, 0xFFFF_FFFF].randomElement(using: &generator)!
                    withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(20..<24, with: $0) }
                }
            }
        }
        return bytes
    }
}

import NIOCore
import PohmelfsCore
import XCTest

/// `FrameAssembler`: the same frames as `FrameDecoder` however a stream is cut into reads, and a
/// large payload that spans reads kept as slices of those reads, not copied.
final class FrameAssemblerTests: XCTestCase {
    private let allocator = ByteBufferAllocator()

    /// READ replies of `sizes` bytes, then a small request after each, as one stream.
    private func stream(replySizes sizes: [Int]) -> (ByteBuffer, [Frame]) {
        var stream = ByteBuffer()
        for (index, size) in sizes.enumerated() {
            let transaction = TransactionID(UInt64(index + 1))
            stream.writeImmutableBuffer(
                FrameEncoding.reply(
                    ReadResponse(data: WireSamples.data(size, seed: UInt8(index))), opcode: .read,
                    transaction: transaction, allocator: self.allocator))
            stream.writeImmutableBuffer(
                FrameEncoding.request(
                    ReleaseRequest(file: FileHandleID(UInt64(index))), caller: .root, transaction: transaction,
                    allocator: self.allocator))
        }
        var whole = stream
        var expected: [Frame] = []
        while let frame = try! FrameDecoder().decodeFrame(from: &whole) { expected.append(frame) }
        return (stream, expected)
    }

    /// Cuts `stream` into reads of the given sizes (the last one takes what is left), each in a
    /// buffer of its own, as a socket delivers them.
    private func reads(of stream: ByteBuffer, sizes: [Int]) -> [ByteBuffer] {
        var reads: [ByteBuffer] = []
        var offset = 0
        for size in sizes + [Int.max] where offset < stream.readableBytes {
            let length = min(size, stream.readableBytes - offset)
            reads.append(ByteBuffer(bytes: stream.getBytes(at: offset, length: length)!))
            offset += length
        }
        return reads
    }

    private func assemble(_ reads: [ByteBuffer]) throws -> [Frame] {
        var assembler = FrameAssembler()
        var frames: [Frame] = []
        for read in reads { try assembler.feed(read) { frames.append($0) } }
        XCTAssertFalse(assembler.holdsPartialFrame)
        return frames
    }

    func testEveryWayOfCuttingTheStreamGivesTheSameFrames() throws {
        let threshold = FrameAssembler.scatterThreshold
        let (stream, expected) = self.stream(replySizes: [0, 4096, threshold - 5, threshold - 4, threshold, 200_000, 1 << 20])
        var generator = SeededGenerator(seed: 42)
        for round in 0..<40 {
            // Tiny reads (headers cut anywhere) in some rounds, large ones in others.
            let largest = [7, 300, 5000, 70_000, 400_000][round % 5]
            let sizes = (0..<4000).map { _ in Int.random(in: 1...largest, using: &generator) }
            let frames = try self.assemble(self.reads(of: stream, sizes: sizes))
            XCTAssertEqual(frames.count, expected.count, "round \(round)")
            XCTAssert(frames == expected, "round \(round): frames differ")
            for frame in frames where frame.body.isScattered {
                XCTAssertGreaterThanOrEqual(Int(frame.header.payloadLength), threshold)
                XCTAssertGreaterThanOrEqual(frame.body.first.readableBytes, FrameAssembler.contiguousPrefix)
            }
        }
    }

    func testALargePayloadThatSpansReadsStaysInTheReadsBuffers() throws {
        let (stream, expected) = self.stream(replySizes: [1 << 20])
        let reads = self.reads(of: stream, sizes: [100_000, 300_000, 300_000])
        let frames = try self.assemble(reads)
        XCTAssert(frames == expected)
        let reply = frames[0]
        XCTAssertEqual(reply.body.rest.count, 3)
        // Each slice points into the read it came from: nothing was copied.
        let starts = reply.body.all.map { $0.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        let readStarts = reads.map { $0.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        XCTAssertEqual(starts[0], readStarts[0] + UInt(MessageHeader.size))
        XCTAssertEqual(Array(starts[1...]), Array(readStarts[1...]))
        // And the READ reply keeps them so.
        let response = try ReadResponse.decode(frame: reply)
        XCTAssertEqual(response.slices.rest.count, 3)
        XCTAssertEqual(response.data, WireSamples.data(1 << 20, seed: 0))
    }

    func testASmallFrameThatSpansReadsIsMergedWithoutTheRestOfTheRead() throws {
        let (stream, expected) = self.stream(replySizes: [1000])
        let frames = try self.assemble(self.reads(of: stream, sizes: [500]))
        XCTAssert(frames == expected)
        XCTAssertFalse(frames.contains { $0.body.isScattered })
    }

    func testAScatteredReplyWhoseLengthDisagreesIsRefused() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(300_000), endianness: .little)
        payload.writeImmutableBuffer(WireSamples.data(100_000))
        let header = MessageHeader(flags: .reply, opcode: .read, transaction: TransactionID(1), payloadLength: 100_004)
        let frame = Frame(
            header: header,
            body: ByteSlices(first: payload.getSlice(at: 0, length: 50_000)!, rest: [payload.getSlice(at: 50_000, length: 50_004)!]))
        XCTAssertThrowsError(try ReadResponse.decode(frame: frame)) { XCTAssertEqual(($0 as? WireError)?.code, .truncated) }
    }

    func testABadHeaderAfterGoodFramesThrowsOnceTheyAreOut() throws {
        let (stream, expected) = self.stream(replySizes: [10])
        var input = stream
        input.writeBytes([UInt8](repeating: 0xAB, count: MessageHeader.size))
        var assembler = FrameAssembler()
        var frames: [Frame] = []
        XCTAssertThrowsError(try assembler.feed(input) { frames.append($0) }) {
            XCTAssertEqual(($0 as? WireError)?.code, .badMagic)
        }
        XCTAssert(frames == expected)
    }
}

/// A small deterministic generator (SplitMix64), so a failing cut can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

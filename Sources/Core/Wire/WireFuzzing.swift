import NIOCore

/// The wire-side half of the fuzz harness (`Tests/Fuzz`, and the corpus replay in `make test`):
/// everything the server does with untrusted bytes before a request reaches a route.
public enum WireFuzzing {
    /// The size of the pieces the input is fed in, as socket reads.
    static let readSize = 4096

    /// Splits `bytes` into frames as the server's decoder does, and decodes every frame's
    /// payload the way its direction requires (a request: the caller, then the request; a reply
    /// or notice: its type). Returns how many frames decoded cleanly. Malformed input must end
    /// in a thrown `WireError` or an incomplete frame, never in a crash.
    @discardableResult
    public static func decodeAll(_ bytes: some Sequence<UInt8>, maximumPayload: UInt32 = 1 << 21) -> Int {
        let input = ByteBuffer(bytes: Array(bytes))
        // Fed as the socket would deliver it, in pieces, so payloads that span reads take the
        // assembler's scattered path too.
        var assembler = FrameAssembler(maximumPayload: maximumPayload)
        var frames: [Frame] = []
        var offset = 0
        while offset < input.readableBytes {
            let piece = input.getSlice(at: offset, length: min(Self.readSize, input.readableBytes - offset))!
            offset += piece.readableBytes
            do {
                try assembler.feed(piece) { frames.append($0) }
            } catch {
                break
            }
        }
        var decoded = 0
        for frame in frames {
            let descriptor = frame.header.opcode.descriptor
            var payload = frame.payload
            do {
                if frame.header.flags.contains(.reply) {
                    if frame.header.status == 0, let reply = descriptor.replyType {
                        _ = try reply.decode(frame: frame)
                    }
                } else {
                    if descriptor.direction == .request { _ = try Caller(from: &payload) }
                    _ = try descriptor.messageType.decode(payload: payload)
                }
                decoded += 1
            } catch {
                // A malformed payload: the server would close the connection; keep splitting.
            }
        }
        return decoded
    }
}

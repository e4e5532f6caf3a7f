import NIOCore

/// The wire-side half of the fuzz harness (`Tests/Fuzz`, and the corpus replay in `make test`):
/// everything the server does with untrusted bytes before a request reaches a route.
public enum WireFuzzing {
    /// Splits `bytes` into frames as the server's decoder does, and decodes every frame's
    /// payload the way its direction requires (a request: the caller, then the request; a reply
    /// or notice: its type). Returns how many frames decoded cleanly. Malformed input must end
    /// in a thrown `WireError` or an incomplete frame, never in a crash.
    @discardableResult
    public static func decodeAll(_ bytes: some Sequence<UInt8>, maximumPayload: UInt32 = 1 << 21) -> Int {
        var buffer = ByteBuffer(bytes: Array(bytes))
        let decoder = FrameDecoder(maximumPayload: maximumPayload)
        var decoded = 0
        while true {
            let frame: Frame
            do {
                guard let next = try decoder.decodeFrame(from: &buffer) else { return decoded }
                frame = next
            } catch {
                return decoded
            }
            let descriptor = frame.header.opcode.descriptor
            var payload = frame.payload
            do {
                if frame.header.flags.contains(.reply) {
                    if frame.header.status == 0, let reply = descriptor.replyType {
                        _ = try reply.decode(payload: payload)
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
    }
}

import NIOCore
import PohmelfsCore

/// Test-only: frames compare by header and payload bytes, so `ByteToMessageDecoderVerifier`
/// and `XCTAssertEqual` can check decoded frames. The production type stays non-Equatable on
/// purpose (comparing payloads is never something the data path should do).
extension Frame: Equatable {
    public static func == (lhs: Frame, rhs: Frame) -> Bool {
        lhs.header == rhs.header && lhs.payload == rhs.payload
    }
}

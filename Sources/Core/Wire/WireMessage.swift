import NIOCore

/// A value that travels as the payload of one frame. Encoding and decoding are symmetric:
/// `try T(from: &buffer)` after `value.encode(into: &buffer)` yields `value` and consumes
/// every byte written.
public protocol WireMessage: Equatable, Sendable {
    func encode(into buffer: inout ByteBuffer)
    /// Decodes from the front of `buffer`; throws `WireError` on truncated or invalid input.
    init(from buffer: inout ByteBuffer) throws
    /// Decodes a whole frame's payload. The default merges a scattered payload; a message that
    /// carries bulk data (READ's reply) keeps the slices.
    static func decode(frame: Frame) throws -> Self
}

/// A client-to-server request. The opcode table (`Opcode`) names the same pairing.
public protocol WireRequest: WireMessage {
    associatedtype Response: WireMessage
    static var opcode: Opcode { get }
}

/// A server-to-client notice: no reply, transaction id 0.
public protocol WireNotice: WireMessage {
    static var opcode: Opcode { get }
}

extension WireMessage {
    /// Decodes a whole payload, rejecting bytes left over.
    public static func decode(payload: ByteBuffer) throws -> Self {
        var buffer = payload
        let value = try Self(from: &buffer)
        try buffer.expectFullyConsumed("\(Self.self)")
        return value
    }

    public static func decode(frame: Frame) throws -> Self {
        try Self.decode(payload: frame.payload)
    }
}

/// The reply of requests that return nothing but success or an errno.
public struct EmptyResponse: WireMessage {
    public init() {}
    public func encode(into buffer: inout ByteBuffer) {}
    public init(from buffer: inout ByteBuffer) throws {}
}

import NIOCore

/// Builds outgoing frames in one buffer: the header is reserved first and patched with the
/// payload length once the body is written, so a body (including bulk data read straight from
/// a file) is never copied to be framed.
public enum FrameEncoding {
    /// Encodes a whole frame whose body is written by `body`.
    public static func frame(
        header: MessageHeader,
        allocator: ByteBufferAllocator,
        capacity: Int = 256,
        body: (inout ByteBuffer) throws -> Void
    ) rethrows -> ByteBuffer {
        var buffer = allocator.buffer(capacity: MessageHeader.size + capacity)
        let start = buffer.writerIndex
        header.encode(into: &buffer)
        try body(&buffer)
        let payloadLength = buffer.writerIndex - start - MessageHeader.size
        buffer.setInteger(UInt32(payloadLength), at: start + 20, endianness: .little)
        return buffer
    }

    /// A request frame: the caller's identity, then the message.
    public static func request<R: WireRequest>(
        _ request: R, caller: Caller, transaction: TransactionID, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        self.frame(
            header: MessageHeader(opcode: R.opcode, transaction: transaction),
            allocator: allocator
        ) { buffer in
            caller.encode(into: &buffer)
            request.encode(into: &buffer)
        }
    }

    /// A successful reply frame.
    public static func reply<M: WireMessage>(
        _ message: M, opcode: Opcode, transaction: TransactionID, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        self.frame(
            header: MessageHeader(flags: .reply, opcode: opcode, transaction: transaction),
            allocator: allocator
        ) { buffer in
            message.encode(into: &buffer)
        }
    }

    /// A failed reply: the errno in the status field, no payload.
    public static func errorReply(
        _ errno: Errno, opcode: Opcode, transaction: TransactionID, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        self.frame(
            header: MessageHeader(
                flags: .reply, opcode: opcode, transaction: transaction, status: UInt32(bitPattern: errno.rawValue)
            ),
            allocator: allocator,
            capacity: 0
        ) { _ in }
    }

    /// A server-to-client notice; `id` is nonzero for notices the client must answer.
    public static func notice<N: WireNotice>(
        _ notice: N, id: TransactionID = .none, allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        self.frame(
            header: MessageHeader(flags: .notice, opcode: N.opcode, transaction: id),
            allocator: allocator
        ) { buffer in
            notice.encode(into: &buffer)
        }
    }
}

import NIOCore
import Synchronization

/// What a client saw on its first connection before HELLO was answered, so that a peer that is
/// not a pohmelfs server is named as such in one line instead of a protocol error or a hang.
///
/// `RPCClient.connect` gives the first channel a `FirstContact.Recorder` (in front of the frame
/// decoder, behind TLS) that keeps the first bytes the peer sent, and arms a HELLO deadline that
/// closes the channel when nothing useful arrives in time. When HELLO then fails, `explain`
/// turns what was seen into the error the user reads:
/// - bytes that do not start with the frame magic: "127.0.0.1:8000 answered, but not as a
///   pohmelfs server (it sent "HTTP/1.0 400 Bad Request")";
/// - nothing before the deadline: "127.0.0.1:8001 accepted the connection but sent no HELLO
///   reply within 10 s";
/// - nothing before the peer closed: "... closed the connection without answering HELLO".
///
/// Thread-safe: the recorder writes on the channel's event loop, `explain` reads from the
/// connecting task; one mutex guards the three fields.
final class FirstContact: Sendable {
    private struct Seen {
        /// Up to `sampleLimit` bytes, the first the peer sent.
        var bytes: [UInt8] = []
        var timedOut = false
        /// Set once a recorder has been handed out: only the first channel gets one.
        var claimed = false
    }

    /// The address as the user writes it, for messages.
    let server: String
    let helloTimeout: Duration
    private let seen = Mutex(Seen())
    private static let sampleLimit = 64
    /// "PHFS" as the frame header starts (the magic, little-endian).
    private static let magic: [UInt8] = Array("PHFS".utf8)

    init(server: String, helloTimeout: Duration) {
        self.server = server
        self.helloTimeout = helloTimeout
    }

    /// The recorder for the first channel, nil for every later one (reconnects).
    func claimRecorder() -> Recorder? {
        let first = self.seen.withLock { seen -> Bool in
            defer { seen.claimed = true }
            return !seen.claimed
        }
        return first ? Recorder(self) : nil
    }

    /// Ends `channel` if HELLO (and AUTH before it) is not answered within the deadline; cancel
    /// the returned task once it is.
    ///
    /// At the deadline the client first closes its sending side only, and gives the peer one
    /// more second: a line-oriented server (HTTP, SMTP) that was waiting for the end of a line
    /// then answers with an error of its own, which names it better than silence does.
    func armDeadline(on channel: any Channel) -> Scheduled<Void> {
        channel.eventLoop.scheduleTask(in: TimeAmount(self.helloTimeout)) {
            self.seen.withLock { $0.timedOut = true }
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
        }
    }

    fileprivate func record(_ buffer: ByteBuffer) {
        self.seen.withLock { seen in
            let room = Self.sampleLimit - seen.bytes.count
            guard room > 0 else { return }
            seen.bytes += buffer.readableBytesView.prefix(room)
        }
    }

    /// The one-line explanation of a failed HELLO on the first connection, or nil when what was
    /// seen is a pohmelfs server (the failure is then its own: a version mismatch, a refusal).
    func explain() -> ClientError? {
        let seen = self.seen.withLock { $0 }
        if !seen.bytes.isEmpty {
            let prefix = Array(seen.bytes.prefix(Self.magic.count))
            guard prefix != Array(Self.magic.prefix(prefix.count)) else { return nil }
            return ClientError(
                .notPohmelfs, "\(self.server) answered, but not as a pohmelfs server\(Self.sample(seen.bytes))")
        }
        if seen.timedOut {
            return ClientError(
                .notPohmelfs,
                "\(self.server) accepted the connection but sent no HELLO reply within \(Self.seconds(self.helloTimeout)); is it a pohmelfs server?"
            )
        }
        return ClientError(
            .notPohmelfs,
            "\(self.server) closed the connection without answering HELLO (not a pohmelfs server, or one refusing this client: see its log)"
        )
    }

    /// ` (it sent "HTTP/1.0 400 Bad Request")` when the first line is printable text, else
    /// ` (it sent binary data: 16 03 03 ...)`.
    static func sample(_ bytes: [UInt8]) -> String {
        let line = bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        if !line.isEmpty, line.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            let text = String(decoding: line.prefix(40), as: UTF8.self)
            return " (it sent \"\(text)\(line.count > 40 ? "..." : "")\")"
        }
        let hex = bytes.prefix(8).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }
        return " (it sent binary data: \(hex.joined(separator: " ")) ...)"
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds) s" }
        return "\(Double(seconds) + Double(attoseconds) / 1e18) s"
    }

    /// Passes every byte on unchanged, keeping a copy of the first few for `explain`.
    final class Recorder: ChannelInboundHandler, RemovableChannelHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let contact: FirstContact

        fileprivate init(_ contact: FirstContact) { self.contact = contact }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.contact.record(self.unwrapInboundIn(data))
            context.fireChannelRead(data)
        }
    }
}

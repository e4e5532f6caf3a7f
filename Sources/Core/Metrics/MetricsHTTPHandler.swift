import NIOCore
import NIOHTTP1

/// Answers HTTP/1.1 requests on the metrics port: `GET /metrics` (or `HEAD`) with the
/// Prometheus text exposition, anything else with 404 or 405. Sits behind NIO's HTTP server
/// pipeline (`configureHTTPServerPipeline`), which parses requests and serializes the
/// replies, one at a time even when a client pipelines them.
///
/// Threading: lives on its channel's event loop; not Sendable. `render` runs there too, so it
/// must be quick (it copies the lock tables and formats a few kilobytes).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The content type Prometheus expects for the text format.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    static let path = "/metrics"

    private let render: @Sendable () -> String
    /// The request being read, from its head to its end.
    private var request: HTTPRequestHead?

    init(render: @escaping @Sendable () -> String) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
        case .body:
            // A scrape has no body; whatever a client sends is read and ignored.
            break
        case .end:
            guard let head = self.request else { return }
            self.request = nil
            self.respond(context, to: head)
        }
    }

    private func respond(_ context: ChannelHandlerContext, to head: HTTPRequestHead) {
        let path = head.uri.prefix { $0 != "?" }
        let (status, body, extraHeaders): (HTTPResponseStatus, String, [(String, String)])
        if path != Self.path {
            (status, body, extraHeaders) = (.notFound, "not found; metrics are at \(Self.path)\n", [])
        } else if head.method != .GET && head.method != .HEAD {
            (status, body, extraHeaders) = (.methodNotAllowed, "use GET\n", [("Allow", "GET, HEAD")])
        } else {
            (status, body, extraHeaders) = (.ok, self.render(), [])
        }
        let keepAlive = head.isKeepAlive
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: status == .ok ? Self.contentType : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(buffer.readableBytes)")
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        var responseHead = HTTPResponseHead(version: head.version, status: status, headers: headers)
        responseHead.headers.replaceOrAdd(name: "Server", value: "pohmelfs")
        context.write(self.wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

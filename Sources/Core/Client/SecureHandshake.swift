import NIOCore

/// The client's part of authentication on one new connection: AUTH before HELLO when it has a
/// shared secret, and one clear line when TLS or authentication fails.
///
/// Every refusal becomes a `SecurityError` whose message says what happened and what to do:
/// the server rejected the secret or the certificate, the server requires credentials this
/// client does not have, or the server's certificate is not trusted.
struct SecureHandshake: Sendable {
    enum Step: Sendable {
        case auth
        case hello
    }

    let security: ClientSecurity?
    let tlsErrors: TLSErrorRecorder
    /// "host:port", for messages.
    let server: String

    /// Sends AUTH with the secret and waits for its answer; does nothing without one.
    func authenticate(on channel: any Channel) async throws {
        guard let secret = self.security?.secret else { return }
        // Transaction ids of AUTH and HELLO are taken before the client's counter starts at 1.
        let transaction = TransactionID(UInt64.max)
        let frame = FrameEncoding.request(
            AuthRequest(secret: secret.bytes), caller: .root, transaction: transaction, allocator: channel.allocator)
        do {
            _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<EmptyResponse, any Error>) in
                RPCClient.write(transaction: transaction, frame: frame, on: channel) { result in
                    continuation.resume(with: RPCClient.decode(result, as: AuthRequest.self, channel: channel))
                }
            }
        } catch {
            try? await channel.close()
            throw self.explain(error, during: .auth)
        }
    }

    /// The error to report for `error`, a failure of `step`.
    func explain(_ error: any Error, during step: Step) -> any Error {
        if let security = self.security, let tls = self.tlsErrors.error {
            return TLSFailure.clientError(tls, server: self.server, security: security)
        }
        switch error as? Errno {
        case .credentialsRequired?:
            guard let security = self.security else {
                return SecurityError(
                    .authenticationFailed,
                    "authentication failed: the server at \(self.server) requires TLS and authentication; give this client the server's client bundle (mount -o tls_dir=DIR, locks --tls-dir DIR)")
            }
            return SecurityError(
                .authenticationFailed,
                "authentication failed: the server at \(self.server) requires a shared secret and \(security.directory.path) has no secret file")
        case .credentialsRejected? where step == .auth:
            return SecurityError(
                .authenticationFailed,
                "authentication failed: the server at \(self.server) rejected the shared secret in \(self.security?.directory.secret ?? "the secret file")")
        default:
            if let security = self.security, let closed = error as? ClientError, closed.code == .connectionClosed {
                // Closed without a TLS error: the handshake never finished.
                return TLSFailure.clientError(closed, server: self.server, security: security)
            }
            return error
        }
    }
}

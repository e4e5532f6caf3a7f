/// The server's rule for AUTH and for HELLO on one connection, from its `ServerSecurity`.
///
/// - No TLS: HELLO needs nothing (the server listens on loopback unless `--insecure`); AUTH is
///   refused, since a secret must never travel in the clear.
/// - Certificate authentication: the TLS handshake already verified the client's certificate,
///   so HELLO needs nothing more; AUTH (a client bundle also holds a secret) is acknowledged
///   without comparing anything.
/// - Secret authentication: HELLO is refused until an AUTH on the same connection presented the
///   secret; a wrong secret is refused and the connection closed.
struct AuthenticationGate: Sendable {
    enum Verdict: Equatable, Sendable {
        case accepted
        case refused(reason: String)
    }

    let security: ServerSecurity?

    /// Whether HELLO may proceed on a new connection before any AUTH.
    var admitsHelloWithoutAuth: Bool {
        switch self.security?.authentication {
        case nil, .certificate?: true
        case .secret?: false
        }
    }

    /// The verdict on an AUTH presenting `secret`.
    func verdict(onSecret secret: [UInt8]) -> Verdict {
        guard let security = self.security else {
            return .refused(reason: "AUTH on a connection without TLS")
        }
        guard let expected = security.secret else { return .accepted }
        return expected.matches(secret) ? .accepted : .refused(reason: "wrong shared secret")
    }
}

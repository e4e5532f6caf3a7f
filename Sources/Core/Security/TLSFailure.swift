import NIOSSL

/// Turns a TLS failure into the one line a user reads: from the client's side (what to fix on
/// this machine or ask of the server's administrator) and from the server's (the reason it logs
/// next to the peer).
///
/// BoringSSL reports reasons as names in its error stack (`CERTIFICATE_VERIFY_FAILED`, the
/// alert a peer sent, ...); they are matched by name, as nothing more structured is offered.
public enum TLSFailure {
    /// Whether `error` came from the TLS layer.
    public static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }

    /// The client's message for a failed connection to `server` using `security`.
    static func clientError(_ error: any Error, server: String, security: ClientSecurity) -> SecurityError {
        let text = "\(error)".uppercased()
        let directory = security.directory.path
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return SecurityError(
                .untrustedServer,
                "the server certificate of \(server) is not issued for that host name or address; connect by a name it lists, or regenerate it with serve --tls-name NAME")
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return SecurityError(
                .untrustedServer,
                "the server certificate of \(server) is not trusted: it is not signed by the CA in \(directory)/ca.pem")
        }
        if text.contains("CERTIFICATE_REQUIRED") {
            return SecurityError(
                .authenticationFailed,
                "authentication failed: the server at \(server) requires a client certificate and \(directory) has no client.pem")
        }
        if text.contains("UNKNOWN_CA") || text.contains("BAD_CERTIFICATE") || text.contains("CERTIFICATE_UNKNOWN")
            || text.contains("DECRYPT_ERROR") || text.contains("ACCESS_DENIED")
        {
            return SecurityError(
                .authenticationFailed,
                "authentication failed: the server at \(server) rejected the client certificate \(directory)/client.pem")
        }
        if text.contains("UNCLEANSHUTDOWN") || text.contains("EOF") || text.contains("WRONG_VERSION_NUMBER") || text.contains("PACKET_LENGTH")
            || text.contains("UNEXPECTED")
        {
            return SecurityError(
                .handshakeFailed,
                "TLS handshake with \(server) failed: the server closed the connection (does it serve TLS, with serve --tls-dir?)")
        }
        return SecurityError(.handshakeFailed, "TLS with \(server) failed: \(error)")
    }

    /// The reason the server logs for a client whose TLS handshake failed.
    public static func serverReason(_ error: any Error) -> String {
        let text = "\(error)".uppercased()
        if text.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE") || text.contains("CERTIFICATE_REQUIRED") {
            return "authentication failed: the client presented no certificate"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "authentication failed: the client certificate is not signed by the server's CA"
        }
        if text.contains("UNKNOWN_CA") || text.contains("BAD_CERTIFICATE") || text.contains("CERTIFICATE_UNKNOWN") {
            return "the client does not trust the server certificate"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("HTTP_REQUEST") || text.contains("PACKET_LENGTH") {
            return "the client does not speak TLS"
        }
        if text.contains("UNCLEANSHUTDOWN") || text.contains("EOF") {
            return "the client closed the connection during the TLS handshake"
        }
        return "TLS failed: \(error)"
    }
}

import NIOCore
import PohmelfsCore
import XCTest

/// `ServerAddress` and `MountSource` parse what users type on the command line.
final class ServerAddressTests: XCTestCase {
    func testHostAloneGetsTheDefaultPort() throws {
        let address = try XCTUnwrap(ServerAddress(parsing: "fileserver"))
        XCTAssertEqual(address, ServerAddress(host: "fileserver", port: ProtocolVersion.defaultPort))
        XCTAssertEqual(ServerAddress(parsing: "10.0.0.1", defaultPort: 99), ServerAddress(host: "10.0.0.1", port: 99))
    }

    func testHostAndPort() {
        XCTAssertEqual(ServerAddress(parsing: "fileserver:9000"), ServerAddress(host: "fileserver", port: 9000))
        XCTAssertEqual(ServerAddress(parsing: "127.0.0.1:1"), ServerAddress(host: "127.0.0.1", port: 1))
        XCTAssertEqual(ServerAddress(parsing: "h:65535"), ServerAddress(host: "h", port: 65535))
    }

    func testBracketedIPv6WithAndWithoutPort() {
        XCTAssertEqual(ServerAddress(parsing: "[::1]:9"), ServerAddress(host: "::1", port: 9))
        XCTAssertEqual(ServerAddress(parsing: "[::1]"), ServerAddress(host: "::1", port: ProtocolVersion.defaultPort))
        XCTAssertEqual(
            ServerAddress(parsing: "[fe80::1%eth0]:7000"), ServerAddress(host: "fe80::1%eth0", port: 7000))
    }

    func testBareIPv6IsAHostWithoutPort() {
        XCTAssertEqual(ServerAddress(parsing: "::1"), ServerAddress(host: "::1", port: ProtocolVersion.defaultPort))
        XCTAssertEqual(ServerAddress(parsing: "2001:db8::7"), ServerAddress(host: "2001:db8::7", port: ProtocolVersion.defaultPort))
    }

    func testBadPortsAreRefused() {
        for text in [
            "h:0", "h:65536", "h:-1", "h:", "h:port", "h:80x", "[::1]:", "[::1]:0", "[::1]:70000", "[::1]9",
            "[::1", "h:99999999999999999999999",
        ] {
            XCTAssertNil(ServerAddress(parsing: text), text)
        }
    }

    func testEmptyHostIsRefused() {
        for text in ["", ":80", "[]", "[]:80"] {
            XCTAssertNil(ServerAddress(parsing: text), text)
        }
    }

    func testDescriptionBracketsIPv6() {
        XCTAssertEqual(ServerAddress(host: "::1", port: 9).description, "[::1]:9")
        XCTAssertEqual(ServerAddress(host: "h", port: 9).description, "h:9")
    }

    func testMountSourceWithSubdirectory() throws {
        let source = try XCTUnwrap(MountSource(parsing: "fileserver:/sub/dir"))
        XCTAssertEqual(source.server, ServerAddress(host: "fileserver"))
        XCTAssertEqual(source.subdirectory, ["sub", "dir"])
        XCTAssertEqual(source.description, "fileserver:\(ProtocolVersion.defaultPort):/sub/dir")
    }

    func testMountSourceWithPortAndSubdirectory() {
        XCTAssertEqual(
            MountSource(parsing: "fileserver:9000:/sub/dir"),
            MountSource(server: ServerAddress(host: "fileserver", port: 9000), subdirectory: ["sub", "dir"]))
        XCTAssertEqual(
            MountSource(parsing: "[::1]:9:/a"), MountSource(server: ServerAddress(host: "::1", port: 9), subdirectory: ["a"]))
        XCTAssertEqual(
            MountSource(parsing: "[::1]:/a//b/"),
            MountSource(server: ServerAddress(host: "::1"), subdirectory: ["a", "b"]))
    }

    func testMountSourceWithoutSubdirectoryIsTheRoot() {
        XCTAssertEqual(MountSource(parsing: "fileserver"), MountSource(server: ServerAddress(host: "fileserver")))
        XCTAssertEqual(
            MountSource(parsing: "fileserver:9000"), MountSource(server: ServerAddress(host: "fileserver", port: 9000)))
        XCTAssertEqual(MountSource(parsing: "fileserver:/"), MountSource(server: ServerAddress(host: "fileserver")))
    }

    func testMountSourceRefusesDotDotAndDot() {
        for text in ["h:/..", "h:/a/../b", "h:9:/a/..", "h:/./a", "[::1]:/.."] {
            XCTAssertNil(MountSource(parsing: text), text)
        }
        XCTAssertNotNil(MountSource(parsing: "h:/..a/b.."), "names that merely contain dots are fine")
    }

    func testMountSourceRefusesBadAddress() {
        XCTAssertNil(MountSource(parsing: "h:0:/a"))
        XCTAssertNil(MountSource(parsing: ":/a"))
    }

    func testAnUnbracketedIPv6AddressWithAPortSuggestsTheBracketedForm() {
        XCTAssertNil(ServerAddress(parsing: "::1:17204"))
        XCTAssertEqual(ServerAddress.bracketedSuggestion(for: "::1:17204"), "[::1]:17204")
        XCTAssertEqual(ServerAddress.bracketedSuggestion(for: "fd00::5:99999"), nil, "not a port")
        // A plain IPv6 address, even one ending in digits, is an address: no suggestion.
        XCTAssertNil(ServerAddress.bracketedSuggestion(for: "::1"))
        XCTAssertNil(ServerAddress.bracketedSuggestion(for: "fe80::1:2024"))
        XCTAssertEqual(ServerAddress(parsing: "::1"), ServerAddress(host: "::1"))
        XCTAssertNil(ServerAddress.bracketedSuggestion(for: "[::1]:17204"))
        XCTAssertNil(ServerAddress.bracketedSuggestion(for: "host:17204"))
    }

    func testSocketAddressesAreWrittenAsUsersWriteThem() throws {
        XCTAssertEqual(try SocketAddress(ipAddress: "127.0.0.1", port: 2024).displayForm, "127.0.0.1:2024")
        XCTAssertEqual(try SocketAddress(ipAddress: "::1", port: 7646).displayForm, "[::1]:7646")
    }

    func testNetworkErrorsReadWithoutLibraryInternals() {
        let text: String
        do {
            _ = try SocketAddress.makeAddressResolvingHost("nosuch.invalid", port: 7646)
            return XCTFail("nosuch.invalid resolved")
        } catch {
            text = NetworkErrorText.describe(error)
        }
        XCTAssertTrue(text.hasPrefix("unknown host 'nosuch.invalid'"), text)
        XCTAssertFalse(text.contains("SocketAddressError"), text)
        XCTAssertEqual(NetworkErrorText.describe(ChannelError.connectTimeout(.seconds(5))), "connection timed out")
    }
}

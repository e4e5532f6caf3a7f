import XCTest

@testable import PohmelfsCore

/// `pohmelfs mount h1,h2:7700,[::1]:/sub`: several servers of one export.
final class MountSourceListTests: XCTestCase {
    func testAListOfServersWithPortsIPv6AndASubdirectory() throws {
        let source = try MountSource.parse("h1,h2:7700,[::1]:9:/sub/a,b").get()
        XCTAssertEqual(
            source.servers,
            [ServerAddress(host: "h1"), ServerAddress(host: "h2", port: 7700), ServerAddress(host: "::1", port: 9)])
        XCTAssertEqual(source.subdirectory, ["sub", "a,b"], "commas after :/ belong to the path")
        XCTAssertEqual(source.server, ServerAddress(host: "h1"))
        XCTAssertEqual(source.description, "h1:\(ProtocolVersion.defaultPort),h2:7700,[::1]:9:/sub/a,b")
        XCTAssertEqual(MountSource(parsing: source.description), source)
    }

    func testOneServerParsesAsBefore() throws {
        XCTAssertEqual(try MountSource.parse("h:9000:/x").get(), MountSource(server: ServerAddress(host: "h", port: 9000), subdirectory: ["x"]))
    }

    func testBadListsAreRefusedNamingTheBadElement() {
        let cases: [(String, String)] = [
            ("h1,,h2", "server 2 of 3 is empty"),
            ("h1,h2,:/", "server 3 of 3 is empty"),
            (",h1", "server 1 of 2 is empty"),
            ("h1,h2:99999", "server 2 of 2, 'h2:99999', is not HOST"),
            ("h1,::1:17204:/a", "server 2 of 2, '::1:17204', is ambiguous: write an IPv6 address with a port in brackets, as in h1,[::1]:17204:/a"),
            ("::1:17204:/sub", "'::1:17204:/sub' is ambiguous: write an IPv6 address with a port in brackets, as in [::1]:17204:/sub"),
            ("h1:7,h1:7", "h1:7 is named twice"),
            ("h1,h2:/a/../b", "may not contain"),
            ("", "is not HOST[:PORT]"),
        ]
        for (text, expected) in cases {
            guard case .failure(let error) = MountSource.parse(text) else {
                XCTFail("'\(text)' parsed")
                continue
            }
            XCTAssertTrue(error.message.contains(expected), "'\(text)': \(error.message)")
        }
    }
}

import PohmelfsCore
import XCTest

/// `HandleAuthenticator`: handles round-trip, and anything not issued under this key and export
/// id is refused.
final class HandleAuthenticatorTests: XCTestCase {
    private let key = (0..<32).map { UInt8($0 &* 7 &+ 1) }
    private let exportID: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    private let kernel = HandleAuthenticator.KernelHandle(type: 0x0000_0001, bytes: [1, 2, 3, 4, 5, 6, 7, 8])

    func testWrapThenUnwrapReturnsTheKernelHandle() throws {
        let authenticator = HandleAuthenticator(key: self.key, exportID: self.exportID)
        for handle in [
            self.kernel,
            HandleAuthenticator.KernelHandle(type: -1, bytes: []),
            HandleAuthenticator.KernelHandle(type: 0x7FFF_FFFF, bytes: Array(repeating: 0xAB, count: 128)),
        ] {
            let wrapped = authenticator.wrap(handle)
            XCTAssertEqual(wrapped.bytes.count, 6 + handle.bytes.count + 16)
            XCTAssertLessThanOrEqual(wrapped.bytes.count, ObjectHandle.maximumSize)
            XCTAssertEqual(authenticator.unwrap(wrapped), handle)
        }
        // Deterministic: the same object always gets the same handle (hard links share one).
        XCTAssertEqual(authenticator.wrap(self.kernel), authenticator.wrap(self.kernel))
    }

    func testAnyFlippedBitIsRefused() {
        let authenticator = HandleAuthenticator(key: self.key, exportID: self.exportID)
        let wrapped = authenticator.wrap(self.kernel)
        for index in wrapped.bytes.indices {
            for bit in 0..<8 {
                var forged = wrapped
                forged.bytes[index] ^= 1 << bit
                XCTAssertNil(authenticator.unwrap(forged), "byte \(index) bit \(bit) flipped")
            }
        }
    }

    func testOtherKeyOrOtherExportIsRefused() {
        let wrapped = HandleAuthenticator(key: self.key, exportID: self.exportID).wrap(self.kernel)
        var otherKey = self.key
        otherKey[31] ^= 0x80
        XCTAssertNil(HandleAuthenticator(key: otherKey, exportID: self.exportID).unwrap(wrapped))
        var firstHalfOtherKey = self.key
        firstHalfOtherKey[0] ^= 0x01
        XCTAssertNil(HandleAuthenticator(key: firstHalfOtherKey, exportID: self.exportID).unwrap(wrapped))
        XCTAssertNil(HandleAuthenticator(key: self.key, exportID: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x89]).unwrap(wrapped))
        XCTAssertNil(HandleAuthenticator(key: self.key, exportID: []).unwrap(wrapped))
    }

    func testTruncatedOrExtendedHandleIsRefused() {
        let authenticator = HandleAuthenticator(key: self.key, exportID: self.exportID)
        let wrapped = authenticator.wrap(self.kernel)
        for length in 0..<wrapped.bytes.count {
            XCTAssertNil(authenticator.unwrap(ObjectHandle(bytes: Array(wrapped.bytes.prefix(length)))), "length \(length)")
        }
        XCTAssertNil(authenticator.unwrap(ObjectHandle(bytes: wrapped.bytes + [0])))
    }

    func testHandleWithOversizedLengthByteIsRefusedWithoutCrashing() {
        let authenticator = HandleAuthenticator(key: self.key, exportID: self.exportID)
        var bytes: [UInt8] = [1, 1, 0, 0, 0, 0xFF]
        bytes += Array(repeating: 0, count: 255 + 16)
        XCTAssertNil(authenticator.unwrap(ObjectHandle(bytes: bytes)))
        XCTAssertNil(authenticator.unwrap(ObjectHandle(bytes: Array(repeating: 0, count: 22))))
    }
}

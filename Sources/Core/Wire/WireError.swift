/// Why bytes from the network could not be understood. Every decoder throws this, never traps:
/// the server answers by closing only the offending connection and logging `description`.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The input ended inside a field.
        case truncated
        /// A frame announced a payload larger than the negotiated cap.
        case frameTooLarge
        /// The frame did not start with the protocol magic.
        case badMagic
        /// The peer speaks a protocol version this build does not.
        case unsupportedVersion
        /// The opcode is not in the opcode table.
        case unknownOpcode
        /// A field holds a value outside its domain (an over-long name, a bad flag).
        case invalidValue
        /// The payload has bytes left after its message was decoded.
        case trailingBytes
        /// A well-formed frame that is wrong here (a reply to nothing, a request sent to a client).
        case unexpectedFrame
    }

    public var code: Code
    public var message: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "\(self.code.rawValue): \(self.message)" }

    public static func == (lhs: WireError, rhs: WireError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.message)
    }
}

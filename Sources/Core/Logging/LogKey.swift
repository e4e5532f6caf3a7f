import Logging

/// Metadata keys used in log lines, named once so every subsystem spells them alike.
public enum LogKey {
    public static let peer = "peer"
    public static let session = "session"
    public static let opcode = "opcode"
    public static let transaction = "xid"
    public static let error = "error"
    public static let address = "address"
    public static let export = "export"
    public static let mountpoint = "mountpoint"
    public static let limit = "limit"
}

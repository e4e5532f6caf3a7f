/// Where a server keeps the secret that authenticates its object handles, as a store of bytes
/// that several servers of one export may share. Handles are valid on every server that holds
/// the same key (and the same export), which is what lets a client fail over between them.
///
/// Implementations: `HandleKeyFile` (a local or shared file, `serve --handle-key FILE`, or
/// `<state-dir>/handle-key`). A store over a cluster (CephFS) implements the same two calls over
/// its own namespace, with its own exclusive create, and gets the same race-free start.
public protocol HandleKeyStorage: Sendable, CustomStringConvertible {
    /// The stored key, or nil when none has been stored yet. Throws `ServerError` when the
    /// storage cannot be read.
    func read() throws -> [UInt8]?
    /// Stores `key` only if no key is stored: true if this call stored it, false if another
    /// server stored one first (the caller then reads that one). Must be atomic across every
    /// server sharing the storage, and a reader must never see a partly written key.
    func createExclusively(_ key: [UInt8]) throws -> Bool
}

/// The handle key: 32 random bytes, created once by whichever server of an export starts first
/// and read by all the others.
public enum HandleKey {
    public static let length = 32

    /// The key in `storage`, created (random) if there is none. Two servers starting at once
    /// over one storage end up with the same key: the loser of the exclusive create reads the
    /// winner's. Throws `ServerError` when the stored key has the wrong length.
    public static func loadOrCreate(from storage: some HandleKeyStorage) throws -> [UInt8] {
        for _ in 0..<3 {
            if let key = try storage.read() { return try Self.validated(key, from: storage) }
            var generator = SystemRandomNumberGenerator()
            let key = (0..<Self.length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if try storage.createExclusively(key) { return key }
        }
        throw ServerError(.stateDirectory, "handle key \(storage) keeps appearing and vanishing; is something removing it?")
    }

    static func validated(_ key: [UInt8], from storage: some HandleKeyStorage) throws -> [UInt8] {
        guard key.count == Self.length else {
            throw ServerError(.stateDirectory, "handle key \(storage) is damaged (expected \(Self.length) bytes, found \(key.count))")
        }
        return key
    }
}

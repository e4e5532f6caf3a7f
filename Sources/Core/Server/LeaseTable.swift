/// Who holds leases on what (`CacheCoherence+Leases`): a pure value, kept under the coherence
/// mutex.
///
/// - `nameHolders[D]`: sessions whose kernels may cache any lookup answer in directory D, a
///   name found or found missing, for as long as they like.
/// - `attributeHolders[I]`: sessions whose kernels may cache I's attributes (and the client its
///   knowledge of I's extended attributes).
/// - Every change the server acknowledges is numbered (`sequence`) and the objects it touched are
///   remembered for a while (`recent`), so a grant can tell whether a change crossed the reply it
///   rides on (read before the change, registered after it): such a grant is refused.
///
/// A name lease lasts until its session ends; a break tells the holder to forget the one name that
/// changed, and the holder keeps the lease on the directory (it will hear of the next change too).
/// An attribute lease ends with its break: the holder's kernel has nothing cached any more.
/// The tables are bounded: past `capacity` entries new grants are refused, never old ones dropped.
struct LeaseTable {
    /// The most directories, and the most objects, that hold leases at once.
    static let capacity = 1 << 18
    /// How many recent changes are remembered for crossing checks.
    static let recentCapacity = 4096

    struct Change {
        var sequence: UInt64
        var object: ObjectHandle
        var by: SessionID
    }

    /// Sessions that speak leases (HELLO capability `leases`).
    var sessions: Set<SessionID> = []
    var nameHolders: [ObjectHandle: Set<SessionID>] = [:]
    var attributeHolders: [ObjectHandle: Set<SessionID>] = [:]
    /// The number of the last change.
    var sequence: UInt64 = 0
    /// The last `recentCapacity` changes, oldest first (a ring kept as an array with a start).
    var recent: [Change] = []
    var recentStart = 0
    /// Grants refused since the server started (table full or crossed), for tests and logs.
    var refused: UInt64 = 0

    /// Records that `session` changed `objects` (the directory for a change of names in it).
    mutating func changed(_ objects: [ObjectHandle], by session: SessionID) {
        guard !self.sessions.isEmpty else { return }
        for object in objects {
            self.sequence += 1
            let change = Change(sequence: self.sequence, object: object, by: session)
            if self.recent.count < Self.recentCapacity {
                self.recent.append(change)
            } else {
                self.recent[self.recentStart] = change
                self.recentStart = (self.recentStart + 1) % Self.recentCapacity
            }
        }
    }

    /// Whether another session changed one of `objects` after change `since` (or whether that is
    /// too long ago to tell).
    func crossed(_ objects: Set<ObjectHandle>, since: UInt64, by session: SessionID) -> Bool {
        guard self.sequence > since else { return false }
        let oldest = self.recent.isEmpty ? self.sequence + 1 : self.recent[self.recentStart].sequence
        if since + 1 < oldest { return true }
        // Newest first, down to `since`: a grant scans only the changes that crossed it.
        let count = self.recent.count
        var index = (self.recentStart + count - 1) % count
        for _ in 0..<count {
            let change = self.recent[index]
            if change.sequence <= since { break }
            if change.by != session && objects.contains(change.object) { return true }
            index = (index + count - 1) % count
        }
        return false
    }

    /// Registers `session` as a holder of names in `directories` and attributes of `objects`,
    /// unless a change crossed the reply or a table is full. Returns whether it was granted.
    mutating func grant(
        directories: [ObjectHandle], objects: [ObjectHandle], to session: SessionID, since: UInt64
    ) -> Bool {
        guard self.sessions.contains(session) else { return false }
        let all = Set(directories).union(objects)
        let room =
            self.nameHolders.count + directories.count <= Self.capacity
            && self.attributeHolders.count + objects.count <= Self.capacity
        guard room, !self.crossed(all, since: since, by: session) else {
            self.refused += 1
            return false
        }
        for directory in directories { self.nameHolders[directory, default: []].insert(session) }
        for object in objects { self.attributeHolders[object, default: []].insert(session) }
        return true
    }

    /// The sessions other than `session` that hold a lease a change of `names` and `objects`
    /// breaks. Their attribute leases on `objects` end here (the break makes their kernels forget
    /// the attributes; they are granted again when they ask): a stream of writes waits for each
    /// other holder once, not at every write. Name leases stay (a break names one name of the
    /// directory; the holder's kernel keeps the others).
    mutating func breaking(names directories: [ObjectHandle], objects: [ObjectHandle], except session: SessionID) -> Set<SessionID> {
        var holders: Set<SessionID> = []
        for directory in directories { holders.formUnion(self.nameHolders[directory] ?? []) }
        for object in objects {
            guard let attribute = self.attributeHolders[object] else { continue }
            holders.formUnion(attribute)
            self.attributeHolders[object] = attribute.contains(session) ? [session] : nil
        }
        holders.remove(session)
        return holders
    }

    /// `object` is gone for good (no link left, nobody has it open): no change can break a
    /// lease on it any more, so who held one is forgotten. Without this both tables kept an
    /// entry for every file and directory a session ever leased until the session ended (the
    /// server's heap in use grew by about 3 MB per `tar -xf` and `rm -rf` of /usr/include).
    mutating func forget(_ object: ObjectHandle) {
        self.nameHolders[object] = nil
        self.attributeHolders[object] = nil
    }

    /// The session ended (or was detached): it holds nothing.
    mutating func drop(_ session: SessionID) {
        guard self.sessions.remove(session) != nil else { return }
        for key in Array(self.nameHolders.keys) {
            self.nameHolders[key]?.remove(session)
            if self.nameHolders[key]?.isEmpty == true { self.nameHolders[key] = nil }
        }
        for key in Array(self.attributeHolders.keys) {
            self.attributeHolders[key]?.remove(session)
            if self.attributeHolders[key]?.isEmpty == true { self.attributeHolders[key] = nil }
        }
    }
}

import Synchronization

/// The directories the kernel has open, by the handle this client gave it (its own numbering,
/// not the server's): OPENDIR under a listing lease (`ListingLeases`) is answered without
/// opening the directory on the server, which happens only when a READDIR arrives (`server`
/// nil until then). Also follows one listing read from offset 0 in order, to learn a directory's
/// every name (`LeaseState.listedWhole`).
///
/// Thread-safe: one mutex, never held while calling out. The kernel sends one READDIR at a time
/// per open directory, and RELEASEDIR after the last.
final class OpenDirectories: Sendable {
    /// A listing being read in order from its start.
    struct Listing: Sendable {
        var ticket: (breaks: UInt64, additions: UInt64)
        var names: Set<FileName> = []
        /// The offset the next READDIR of this listing starts at.
        var next: UInt64 = 0
    }

    struct Directory: Sendable {
        var node: NodeID
        /// The server's handle, once the directory is open there.
        var server: FileHandleID?
        var listing: Listing?
        /// The offset after the last entry of the listing, once a READDIR of this open reached
        /// the end (`ReaddirResponse.isEnd`, every entry passed on to the kernel).
        var end: UInt64?
        /// The first batch, read with the open (OPENDIR_LIST), until the kernel's first READDIR.
        var firstBatch: FirstBatch?
    }

    /// A listing's first batch that came with the open, and what the client knew when it asked.
    struct FirstBatch: Sendable {
        var listing: ReaddirResponse
        var plus: Bool
        var tickets: ListingTickets
        var received = ContinuousClock.now
    }

    /// What a READDIR's (or OPENDIR_LIST's) reply is judged by: the lease counters taken just
    /// before it was sent.
    struct ListingTickets: Sendable {
        /// `LeaseState.ticket`; nil without leases.
        var lease: UInt64?
        /// `LeaseState.listingTicket`; nil without listing leases.
        var listing: (breaks: UInt64, additions: UInt64)?
        var directories: LeasedDirectoryAttributes.Ticket?
    }

    /// The largest listing followed to learn a directory's every name.
    static let largestListing = 1 << 16
    private let table = Mutex<(next: UInt64, open: [FileHandleID: Directory])>((1, [:]))

    /// Registers an open of `node` and returns the handle the kernel is given.
    func opened(_ node: NodeID, server: FileHandleID?) -> FileHandleID {
        self.table.withLock { table in
            let id = FileHandleID(table.next)
            table.next += 1
            table.open[id] = Directory(node: node, server: server)
            return id
        }
    }

    subscript(_ id: FileHandleID) -> Directory? { self.table.withLock { $0.open[id] } }

    /// `id` is now open on the server as `server`; false when the kernel closed it meanwhile
    /// (its READDIR was interrupted), and the server's handle is the caller's to release.
    func openedOnServer(_ id: FileHandleID, as server: FileHandleID) -> Bool {
        self.table.withLock { table in
            guard table.open[id] != nil else { return false }
            table.open[id]!.server = server
            return true
        }
    }

    /// A READDIR of `id` passed on the listing's last entry: the next one, from `offset`, is
    /// answered here with nothing.
    func reachedEnd(_ id: FileHandleID, at offset: UInt64) {
        self.table.withLock { table in
            guard table.open[id] != nil else { return }
            table.open[id]!.end = offset
        }
    }

    /// Keeps the first batch of `id`'s listing for its first READDIR.
    func keep(_ batch: FirstBatch, for id: FileHandleID) {
        self.table.withLock { table in
            guard table.open[id] != nil else { return }
            table.open[id]!.firstBatch = batch
        }
    }

    /// The first batch of `id`'s listing, once: a later READDIR from 0 (rewinddir) asks the server.
    func takeFirstBatch(_ id: FileHandleID) -> FirstBatch? {
        self.table.withLock { table in
            guard let batch = table.open[id]?.firstBatch else { return nil }
            table.open[id]!.firstBatch = nil
            return batch
        }
    }

    /// The kernel closed `id`: what it was.
    func released(_ id: FileHandleID) -> Directory? { self.table.withLock { $0.open.removeValue(forKey: id) } }

    /// A READDIR of `id` from `offset` is about to be sent: a listing starts at 0 (with `ticket`),
    /// and one not read in order is not followed.
    func reading(_ id: FileHandleID, from offset: UInt64, ticket: @autoclosure () -> (breaks: UInt64, additions: UInt64)?) {
        self.table.withLock { table in
            guard table.open[id] != nil else { return }
            if offset == 0 {
                table.open[id]!.listing = ticket().map { Listing(ticket: $0) }
            } else if table.open[id]!.listing?.next != offset {
                table.open[id]!.listing = nil
            }
        }
    }

    /// The READDIR of `id` returned `names` to the kernel, the next starting at `next`; returns
    /// the whole listing once `end` (nothing after these) and it was followed from its start.
    func read(
        _ id: FileHandleID, names: [FileName], next: UInt64, end: Bool
    ) -> (node: NodeID, listing: Listing)? {
        self.table.withLock { table in
            guard var listing = table.open[id]?.listing else { return nil }
            listing.names.formUnion(names)
            listing.next = next
            guard listing.names.count <= Self.largestListing else {
                table.open[id]!.listing = nil
                return nil
            }
            table.open[id]!.listing = end ? nil : listing
            return end ? (table.open[id]!.node, listing) : nil
        }
    }
}

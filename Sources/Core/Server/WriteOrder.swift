/// The WRITEs of one connection to one file that overlap are performed one after the other, in
/// the order they arrived. A client streams several 1 MiB WRITEs of a file without waiting for
/// their replies (ConsistencyContract, "Streamed writes under the grant"); each takes its
/// transaction lock on a pool thread, so two overlapping ones would otherwise race for it and the
/// earlier one could land last. WRITEs that overlap nothing before them start at once (a
/// writeback round's extents still run side by side); writes of different connections are not
/// ordered here (the transaction locks still serialize overlapping ones).
///
/// Threading: owned by one connection handler, used on its event loop only.
struct WriteOrder {
    private struct Write {
        var id: Int
        var range: Range<UInt64>
        /// Nil once started.
        var start: (() -> Void)?
    }

    /// Per file, the WRITEs being performed or waiting, in arrival order.
    private var files: [ObjectHandle: [Write]] = [:]
    private var nextID = 0

    /// A WRITE admitted: pass it to `finished` when it is done.
    struct Ticket {
        fileprivate var file: ObjectHandle
        fileprivate var id: Int
    }

    /// Admits a WRITE of `range` of `file`. `startsNow`: no earlier WRITE of the file still under
    /// way overlaps it, and the caller starts it; otherwise `finished` hands `start` back once
    /// every such one has finished.
    mutating func admit(
        _ file: ObjectHandle, range: Range<UInt64>, _ start: @escaping () -> Void
    ) -> (ticket: Ticket, startsNow: Bool) {
        self.nextID &+= 1
        let id = self.nextID
        let waits = self.files[file]?.contains { $0.range.overlaps(range) } ?? false
        self.files[file, default: []].append(Write(id: id, range: range, start: waits ? start : nil))
        return (Ticket(file: file, id: id), !waits)
    }

    /// The WRITE of `ticket` has finished: returns the waiting WRITEs that may start now, in
    /// arrival order (the caller runs them).
    mutating func finished(_ ticket: Ticket) -> [() -> Void] {
        guard var writes = self.files[ticket.file] else { return [] }
        writes.removeAll { $0.id == ticket.id }
        var ready: [() -> Void] = []
        for index in writes.indices {
            guard let start = writes[index].start else { continue }
            let range = writes[index].range
            if !writes[..<index].contains(where: { $0.range.overlaps(range) }) {
                writes[index].start = nil
                ready.append(start)
            }
        }
        self.files[ticket.file] = writes.isEmpty ? nil : writes
        return ready
    }
}

/// The WRITEs of one connection to one file, performed one after the other in the order they
/// arrived. A client streams several 1 MiB WRITEs of a file without waiting for their replies
/// (ConsistencyContract, "Streamed writes under the grant"); each takes its transaction lock on a
/// pool thread, so two overlapping ones would otherwise race for it and the earlier one could
/// land last. Writes of different files, and of different connections, are not ordered here (the
/// transaction locks still serialize overlapping ones).
///
/// Threading: owned by one connection handler, used on its event loop only.
struct WriteOrder {
    /// Files with a WRITE being performed, and the WRITEs waiting behind it, oldest first.
    private var queues: [ObjectHandle: [() -> Void]] = [:]

    /// Runs `start` now when no WRITE of `file` is being performed, else once the ones before it
    /// have finished (`finished`).
    mutating func admit(_ file: ObjectHandle, _ start: @escaping () -> Void) {
        if self.queues[file] != nil {
            self.queues[file]!.append(start)
        } else {
            self.queues[file] = []
            start()
        }
    }

    /// The WRITE of `file` being performed has finished: returns the next one to start, if any.
    mutating func finished(_ file: ObjectHandle) -> (() -> Void)? {
        guard var waiting = self.queues[file] else { return nil }
        guard !waiting.isEmpty else {
            self.queues[file] = nil
            return nil
        }
        let next = waiting.removeFirst()
        self.queues[file] = waiting
        return next
    }
}

import Synchronization

/// An open O_PATH descriptor for one object of the export, with what the store needs to know
/// about it without another system call.
final class ObjectReference: Sendable {
    let descriptor: FileDescriptor
    let handle: ObjectHandle
    /// `S_IFMT` bits; an object's type never changes.
    let fileType: UInt32
    /// `/proc/self/fd/N` of `descriptor`, built once: the confinement check reads it per request.
    let procPath: String
    /// Until when (monotonic ns) the object is known to be beneath the export
    /// (`LocalDirectoryStore+Confinement`); 0: not checked yet.
    let confinedUntil = Atomic<Int64>(0)

    init(descriptor: FileDescriptor, handle: ObjectHandle, fileType: UInt32) {
        self.descriptor = descriptor
        self.handle = handle
        self.fileType = fileType
        self.procPath = descriptor.procPath
    }

    var fd: Int32 { self.descriptor.rawValue }
    var isDirectory: Bool { self.fileType == 0o040000 }
    var isSymbolicLink: Bool { self.fileType == 0o120000 }

    /// The path that reopens the object through procfs, for calls that have no descriptor form.
    ///
    /// Refused for symbolic links: resolving `/proc/self/fd/N` of a link would follow the link
    /// on the server, outside the export's confinement (libfuse's passthrough_ll refuses the
    /// same way).
    func reopenPath() throws -> String {
        guard !self.isSymbolicLink else { throw Errno.permission }
        return self.descriptor.procPath
    }
}

/// Handles the store has recently resolved, each with an open O_PATH descriptor, so a request
/// on a known object costs no `open_by_handle_at`. Bounded: beyond `capacity` the least recently
/// used half is dropped (their descriptors close when the last operation using them ends).
///
/// An O_PATH descriptor keeps its inode alive: a removed file's blocks are freed only when the
/// last descriptor to it closes. So the table also counts the open files of each object
/// (`opened`/`closed`), and the store drops an object whose last link is gone as soon as no
/// client has it open (`LocalDirectoryStore+Removal`): its space returns at once, as on a
/// local disk after the last `close` of an unlinked file.
///
/// Locking: `entries` is protected by its own mutex; nothing else is done while holding it.
final class ObjectTable: Sendable {
    private struct Slot {
        var reference: ObjectReference
        var lastUse: UInt64
    }

    private struct Entries {
        var slots: [ObjectHandle: Slot] = [:]
        var clock: UInt64 = 0
        /// Open files of each object (any client, any reference); absent when none.
        var opens: [ObjectHandle: Int] = [:]
    }

    private let entries = Mutex(Entries())
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func lookup(_ handle: ObjectHandle) -> ObjectReference? {
        self.entries.withLock { entries in
            guard var slot = entries.slots[handle] else { return nil }
            entries.clock += 1
            slot.lastUse = entries.clock
            entries.slots[handle] = slot
            return slot.reference
        }
    }

    func insert(_ reference: ObjectReference) {
        // Evicted references are released after the lock is dropped, so no close(2) runs under it.
        let evicted: [Slot] = self.entries.withLock { entries in
            entries.clock += 1
            entries.slots[reference.handle] = Slot(reference: reference, lastUse: entries.clock)
            guard entries.slots.count > self.capacity else { return [] }
            let victims = entries.slots.values.sorted { $0.lastUse < $1.lastUse }.prefix(entries.slots.count / 2)
            for victim in victims { entries.slots[victim.reference.handle] = nil }
            return Array(victims)
        }
        _ = evicted
    }

    /// Drops `handle` unless one of its files is open; returns whether it was dropped (or was not
    /// there). The reference closes once operations still using it end.
    func removeUnlessOpen(_ handle: ObjectHandle) -> Bool {
        let removed: (Bool, Slot?) = self.entries.withLock { entries in
            guard entries.opens[handle] == nil else { return (false, nil) }
            return (true, entries.slots.removeValue(forKey: handle))
        }
        _ = removed.1
        return removed.0
    }

    /// A file of `handle` was opened.
    func opened(_ handle: ObjectHandle) {
        self.entries.withLock { $0.opens[handle, default: 0] += 1 }
    }

    /// A file of `handle` was closed; true when it was the last one open.
    func closed(_ handle: ObjectHandle) -> Bool {
        self.entries.withLock { entries in
            guard let count = entries.opens[handle] else { return false }
            entries.opens[handle] = count > 1 ? count - 1 : nil
            return count == 1
        }
    }

    var count: Int { self.entries.withLock { $0.slots.count } }
}

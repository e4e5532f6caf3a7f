import Glibc

/// The SETATTRs a client may answer itself under a file's write-back grant (ConsistencyContract
/// "Write-behind of file metadata"): it decides them exactly as the server's kernel would, or
/// not at all. Pure: no state, no I/O.
enum LocalSetattr {
    /// The file's attributes once `changes` by `caller` are applied to `attributes`, or nil
    /// when the server must decide (a size change, a caller that is neither root nor the owner,
    /// a change of owner by anyone but root or of a file with a set-ID bit, a set-group-ID bit
    /// set by someone outside the file's group). Times set to "now" and the change time are `now`.
    static func apply(
        _ changes: AttributeChanges, to attributes: FileAttributes, caller: Caller, now: Timestamp
    ) -> FileAttributes? {
        guard changes.size == nil, attributes.isRegularFile else { return nil }
        let root = caller.uid == 0
        guard root || caller.uid == attributes.uid else { return nil }
        var result = attributes
        if changes.uid != nil || changes.gid != nil {
            // chown clears set-ID bits even for root: such files are left to the server.
            guard root, (attributes.mode | (changes.mode ?? 0)) & 0o6000 == 0 else { return nil }
            if let uid = changes.uid { result.uid = uid }
            if let gid = changes.gid { result.gid = gid }
        }
        if let mode = changes.mode {
            let inGroup = caller.gid == attributes.gid || caller.groups.contains(attributes.gid)
            // The kernel drops a set-group-ID bit set by a non-member: the server decides that.
            guard root || mode & 0o2000 == 0 || inGroup else { return nil }
            result.mode = attributes.fileType | (mode & 0o7777)
        }
        if let access = changes.accessTime { result.accessTime = Self.time(access, now: now) }
        if let modification = changes.modificationTime { result.modificationTime = Self.time(modification, now: now) }
        result.changeTime = now
        return result
    }

    private static func time(_ update: TimeUpdate, now: Timestamp) -> Timestamp {
        switch update {
        case .now: return now
        case .set(let time): return time
        }
    }

    /// `later` folded into `earlier` when sending both as one SETATTR gives what sending them one
    /// after the other would: the server applies mode, then owner, then times, so a mode sent
    /// after a change of owner may be merged only without set-ID bits (the change of owner would
    /// clear them). Size changes are never merged (they are never answered locally).
    static func merged(_ earlier: SetattrRequest, _ later: SetattrRequest) -> SetattrRequest? {
        guard earlier.handle == later.handle, earlier.size == nil, later.size == nil else { return nil }
        let ownerFirst = earlier.uid != nil || earlier.gid != nil
        if ownerFirst, let mode = later.mode, mode & 0o6000 != 0 { return nil }
        var result = earlier
        result.file = later.file ?? earlier.file
        result.mode = later.mode ?? earlier.mode
        result.uid = later.uid ?? earlier.uid
        result.gid = later.gid ?? earlier.gid
        result.accessTime = later.accessTime ?? earlier.accessTime
        result.modificationTime = later.modificationTime ?? earlier.modificationTime
        return result
    }

    /// The client's clock, for the times it answers itself.
    static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(seconds: Int64(spec.tv_sec), nanoseconds: UInt32(spec.tv_nsec))
    }
}

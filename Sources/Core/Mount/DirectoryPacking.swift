/// How many directory entries fit in the buffer the kernel offers, by the FUSE ABI's sizes.
///
/// `fuse_add_direntry` uses `FUSE_DIRENT_SIZE` = align8(24 + namelen) per entry and
/// `fuse_add_direntry_plus` uses `FUSE_DIRENTPLUS_SIZE` = align8(152 + namelen) (a 128-byte
/// `fuse_entry_out` before the dirent). The lookup count of an entry must be incremented only if
/// the entry really goes to the kernel, so Core decides what fits before replying, with the
/// same arithmetic libfuse applies.
public enum DirectoryPacking {
    public static func entrySize(nameLength: Int, plus: Bool) -> Int {
        let unaligned = (plus ? 152 : 24) + nameLength
        return (unaligned + 7) & ~7
    }

    /// The longest prefix of `names` (given as lengths) that fits in `size` bytes.
    public static func fittingCount(nameLengths: [Int], plus: Bool, size: Int) -> Int {
        var used = 0
        for (index, length) in nameLengths.enumerated() {
            used += self.entrySize(nameLength: length, plus: plus)
            if used > size { return index }
        }
        return nameLengths.count
    }
}

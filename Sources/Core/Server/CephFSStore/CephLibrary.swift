import CCephFS

/// libcephfs, opened on first use (`pohmelfs_ceph_load` in CCephFS): only `serve --store cephfs`
/// needs it installed, and only that process carries its pages.
enum CephLibrary {
    /// Opens libcephfs, once; throws why when it cannot (not installed, or too old).
    static func load() throws {
        var reason: UnsafePointer<CChar>?
        guard pohmelfs_ceph_load(&reason) == 0 else {
            let why = reason.map { String(cString: $0) } ?? "unknown error"
            throw ServerError(
                .backingStore, "cannot load libcephfs, which --store cephfs needs (Debian: apt-get install libcephfs2): \(why)")
        }
    }
}

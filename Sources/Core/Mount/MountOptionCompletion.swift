/// What the shells offer after `pohmelfs mount ... -o`: every mount option, with the values of
/// those that take a closed set (`cache=strict`, `cache=none`, `writeback=on`, `writeback=off`),
/// completing the last of a comma-separated list (`ro,ca<TAB>` offers `ro,cache=strict`, ...).
public enum MountOptionCompletion {
    /// Each option as it is offered: flags whole, closed sets with each value, other valued
    /// options up to their `=`.
    public static let offered: [String] = [
        "allow_other", "allow_root", "default_permissions", "ro", "rw", "fsname=", "attr_timeout=", "entry_timeout=",
        "negative_timeout=", "cache=strict", "cache=none", "cache_size=", "writeback=on", "writeback=off", "hard", "soft",
        "timeout=", "tls_dir=", "nosuid", "nodev", "noexec", "noatime", "_netdev", "nofail", "noauto",
    ]

    /// The candidates for a word the user has typed so far (`prefix`).
    public static func candidates(prefix: String) -> [String] {
        let head: Substring
        let last: Substring
        if let comma = prefix.lastIndex(of: ",") {
            head = prefix[...comma]
            last = prefix[prefix.index(after: comma)...]
        } else {
            head = ""
            last = Substring(prefix)
        }
        let given = Set(head.split(separator: ",").map { $0.split(separator: "=").first.map(String.init) ?? "" })
        return Self.offered.filter { option in
            let key = option.split(separator: "=").first.map(String.init) ?? option
            return option.hasPrefix(last) && !given.contains(key)
        }.map { String(head) + $0 }
    }
}

/// What this build is, for `--version` and the `pohmelfs_build_info` metric.
public enum BuildInfo {
    public static let version = "0.1.0"
}

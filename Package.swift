// swift-tools-version:6.0
import PackageDescription

/// pohmelfs: a network filesystem with a coherent client cache and server-side range locks.
///
/// Targets (see README "Map of the tree"):
/// - `pohmelfs`: the executable; argument parsing, bootstraps, libfuse trampolines. Thin.
/// - `PohmelfsCore` (`Sources/Core`): the protocol, client library, server, inode table,
///   range locks, sd_notify, the Prometheus metrics endpoint, TLS (swift-nio-ssl) with its
///   generated certificates (swift-certificates, swift-crypto). Everything with an invariant
///   worth testing.
/// - `CFuse3`, `CSystemd`: system-library targets over libfuse3 and libsystemd.
/// - `CCephFS`: libcephfs's declarations (Debian's libcephfs-dev) and a loader that opens the
///   library only when the CephFS store is asked for (`pohmelfs_ceph_load`), so nothing else
///   needs it installed or pays for its memory.
/// - `CLinux`: `static inline` wrappers for Linux syscalls glibc does not export to Swift
///   (`openat2`, per-thread `setgroups`, file handles), in the manner of NIO's `CNIOLinux`.
let package = Package(
    name: "pohmelfs",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
    ],
    targets: [
        .systemLibrary(
            name: "CFuse3",
            path: "Sources/CFuse3",
            pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            path: "Sources/CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(name: "CCephFS", path: "Sources/CCephFS"),
        .target(name: "CLinux", path: "Sources/CLinux"),
        .target(
            name: "PohmelfsCore",
            dependencies: [
                "CLinux",
                "CSystemd",
                "CCephFS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            path: "Sources/Core"
        ),
        .executableTarget(
            name: "pohmelfs",
            dependencies: [
                "PohmelfsCore",
                "CFuse3",
                "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/pohmelfs"
        ),
        // The libFuzzer target (Tests/Fuzz/build.sh builds it with -sanitize=fuzzer,address and
        // -DPOHMELFS_LIBFUZZER); in ordinary builds a replay tool: `pohmelfs-fuzz FILE...`.
        .executableTarget(
            name: "pohmelfs-fuzz",
            dependencies: [
                "PohmelfsCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Fuzz/Target"
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: [
                "PohmelfsCore",
                "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/CoreTests"
        ),
    ],
    swiftLanguageModes: [.v6]
)

import CFuse3
import CLinux
import Foundation
import PohmelfsCore

/// One libfuse low-level session: created, mounted, looped, unmounted, destroyed, in that
/// order, each exactly once. All libfuse session calls of the project live here.
final class FUSESession: @unchecked Sendable {
    private let session: OpaquePointer
    let mountpoint: String
    /// Keeps the C argument strings and the operation table alive as long as the session.
    private var arguments: [UnsafeMutablePointer<CChar>?]
    private let bridge: Unmanaged<FUSEBridge>

    /// `options` become one `-o` argument for libfuse (mount options such as fsname, allow_other).
    init(options: [String], bridge: FUSEBridge, mountpoint: String) throws {
        self.mountpoint = mountpoint
        var arguments = ["pohmelfs", "-o", options.joined(separator: ",")].map { (text: String) in strdup(text) } + [nil]
        let retained = Unmanaged.passRetained(bridge)
        var operations = LowLevelOperations.make()
        let argc = Int32(arguments.count - 1)
        let created: OpaquePointer? = arguments.withUnsafeMutableBufferPointer { argv in
            var args = pohmelfs_fuse_args(argc, argv.baseAddress)
            return fuse_session_new(&args, &operations, MemoryLayout<fuse_lowlevel_ops>.size, retained.toOpaque())
        }
        guard let created else {
            retained.release()
            for argument in arguments { free(argument) }
            throw MountFailure("cannot create the FUSE session (libfuse rejected the options: \(options.joined(separator: ",")))")
        }
        self.arguments = arguments
        self.bridge = retained
        self.session = created
        bridge.session = created
    }

    func mount() throws {
        guard fuse_session_mount(self.session, self.mountpoint) == 0 else {
            throw MountFailure("cannot mount at \(self.mountpoint) (is /dev/fuse available and fusermount3 installed?)")
        }
    }

    /// Serves requests until unmounted or `exit()` is called. Blocks the calling thread.
    func loop() -> Int32 {
        pohmelfs_fuse_session_loop(self.session)
    }

    /// Ends the loop from any thread: marks the session exited and detaches the mount, which
    /// wakes the loop's blocked read of /dev/fuse at once (FIELD-NOTES: signals alone do not).
    func exit() {
        fuse_session_exit(self.session)
        _ = pohmelfs_umount2(self.mountpoint, POHMELFS_MNT_DETACH)
    }

    /// After the loop returned and every request has been answered.
    func unmountAndDestroy() {
        fuse_session_unmount(self.session)
        fuse_session_destroy(self.session)
        self.bridge.release()
        for argument in self.arguments { free(argument) }
        self.arguments = []
    }
}

/// A mount failure with the one-line message the user sees.
struct MountFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

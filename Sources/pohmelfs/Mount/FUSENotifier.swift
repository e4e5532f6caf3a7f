import CFuse3
import Dispatch
import PohmelfsCore
import Synchronization

/// `KernelNotifier` over `fuse_lowlevel_notify_inval_inode`, on its own serial queue: the call
/// can wait for pages that reads in flight have locked, and those reads are answered by the
/// network thread, so it must never run there.
final class FUSENotifier: EntryNotifier {
    private let queue = DispatchQueue(label: "pohmelfs.invalidate")
    /// The session, once it exists; nil before and after (then notices are just acknowledged).
    private let session = Mutex<SessionPointer?>(nil)

    struct SessionPointer: @unchecked Sendable {
        let raw: OpaquePointer
    }

    func attach(_ session: OpaquePointer?) {
        self.session.withLock { $0 = session.map(SessionPointer.init) }
    }

    func invalidate(_ node: NodeID, offset: Int64, length: Int64, done: @escaping @Sendable () -> Void) {
        self.queue.async {
            // Held across the call so `attach(nil)` at unmount waits for a notification in flight.
            self.session.withLock { session in
                if let session {
                    _ = fuse_lowlevel_notify_inval_inode(session.raw, fuse_ino_t(node.rawValue), off_t(offset), off_t(length))
                }
            }
            done()
        }
    }

    func forget(_ what: KernelForgetting, done: @escaping @Sendable () -> Void) {
        self.queue.async {
            self.session.withLock { session in
                guard let session else { return }
                for (parent, name) in what.entries {
                    name.bytes.withUnsafeBufferPointer { bytes in
                        bytes.withMemoryRebound(to: CChar.self) { chars in
                            _ = fuse_lowlevel_notify_inval_entry(
                                session.raw, fuse_ino_t(parent.rawValue), chars.baseAddress, chars.count)
                        }
                    }
                }
                for node in what.nodes {
                    _ = fuse_lowlevel_notify_inval_inode(session.raw, fuse_ino_t(node.rawValue), -1, 0)
                }
            }
            done()
        }
    }
}

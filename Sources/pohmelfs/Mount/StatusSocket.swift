import Foundation
import PohmelfsCore
import Synchronization

/// The mount's status socket: a Unix stream socket at `MountStatus.socketPaths(device:)`
/// where every connection gets the current `MountStatus` as JSON, then end of file. Served by
/// one thread doing blocking accepts; `close()` wakes it (shutdown) and removes the socket.
///
/// The socket is mode 0666 (its directory 0755): the status holds the server's address and the
/// mount options, nothing secret, and anyone who can see the mountpoint may ask.
final class StatusSocket: @unchecked Sendable {
    private let fd: Int32
    let path: String

    /// Binds the first of `paths` whose directory can be created; nil (and a log line by the
    /// caller) when none can.
    init?(paths: [String], render: @escaping @Sendable () -> String) {
        var bound: (Int32, String)?
        for path in paths {
            let directory = (path as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            guard let fd = Self.listen(at: path) else { continue }
            bound = (fd, path)
            break
        }
        guard let (fd, path) = bound else { return nil }
        self.fd = fd
        self.path = path
        Thread.detachNewThread { [fd] in
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 {
                    if errno == EINTR || errno == ECONNABORTED { continue }
                    return
                }
                var text = render() + "\n"
                text.withUTF8 { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = send(connection, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                        if written <= 0 { break }
                        offset += written
                    }
                }
                Glibc.close(connection)
            }
        }
    }

    private static func listen(at path: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(fd)
            return nil
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        // A socket left by a mount that died on this device number is stale: replace it.
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 8) == 0 else {
            Glibc.close(fd)
            return nil
        }
        chmod(path, 0o666)
        return fd
    }

    func close() {
        unlink(self.path)
        shutdown(self.fd, Int32(SHUT_RDWR))
        Glibc.close(self.fd)
    }
}

/// The status socket of a mount once it is ready, closed at unmount.
final class StatusSocketSlot: Sendable {
    private let socket = Mutex<StatusSocket?>(nil)

    func open(mountpoint: String, render: @escaping @Sendable () -> String) -> String? {
        var st = stat()
        guard stat(mountpoint, &st) == 0,
            let opened = StatusSocket(paths: MountStatus.socketPaths(device: UInt64(st.st_dev)), render: render)
        else { return nil }
        self.socket.withLock { $0 = opened }
        return opened.path
    }

    func close() {
        self.socket.withLock { socket in
            socket?.close()
            socket = nil
        }
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import PohmelfsCore

#if canImport(Glibc)
import Glibc
#endif

/// The libFuzzer target (`make fuzz`): each input goes through the frame decoder, then, after a
/// valid HELLO, to a real server exporting a temporary directory (started once per process, on
/// 127.0.0.1). Built with `-sanitize=fuzzer,address` by `Tests/Fuzz/build.sh`; in an ordinary
/// `swift build` it is a replay tool instead: `pohmelfs-fuzz FILE...` runs each file once.
enum FuzzServer {
    /// The server's port, started on first use.
    static let port: Int = {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pohmelfs-fuzz-\(getpid())")
        let export = base.appendingPathComponent("export")
        try! FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: export.appendingPathComponent("file").path, contents: Data("x".utf8))
        let store = try! LocalDirectoryStore(export: export.path, stateDirectory: base.appendingPathComponent("state").path)
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        var configuration = PohmelfsServer<LocalDirectoryStore>.Configuration(host: "127.0.0.1", port: 0, ioThreads: 2)
        configuration.stallTimeout = .milliseconds(100)
        configuration.helloTimeout = .milliseconds(500)
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Task {
            let server = try! await PohmelfsServer.start(
                store: store, configuration: configuration, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            box.port = server.localAddress.port!
            box.server = server
            done.signal()
        }
        done.wait()
        return box.port
    }()

    final class Box: @unchecked Sendable {
        var port = 0
        var server: PohmelfsServer<LocalDirectoryStore>?
    }

    /// Sends HELLO and `bytes`, half-closes, and reads until the server closes (or 2 s pass).
    static func exchange(_ bytes: UnsafeRawBufferPointer) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(Self.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(connected == 0, "cannot reach the fuzz server: \(String(cString: strerror(errno)))")
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let hello = FrameEncoding.request(
            HelloRequest(clientName: "fuzz"), caller: .root, transaction: TransactionID(1), allocator: ByteBufferAllocator())
        _ = hello.withUnsafeReadableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if bytes.count > 0 { _ = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 1 << 16)
        while sink.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    WireFuzzing.decodeAll(bytes)
    FuzzServer.exchange(bytes)
    return 0
}

#if POHMELFS_LIBFUZZER
/// libFuzzer's driver, entered explicitly: SwiftPM links an executable's entry point as
/// `<module>_main` (aliased to `main`), which would shadow libFuzzer's own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("pohmelfs_fuzz_main")
func fuzzMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}
#else
/// Replays the files named on the command line through the target, once each.
@main
struct ReplayMain {
    static func main() throws {
        for path in CommandLine.arguments.dropFirst() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes.withUnsafeBytes { _ = fuzzOneInput($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
            print("replayed \(path)")
        }
    }
}
#endif

import Foundation
import Logging
import NIOPosix
import PohmelfsCore
import Synchronization

/// A foreground mount from start to finish: connect, negotiate, mount, serve until unmounted
/// or signalled, then answer everything still in flight and clean up.
struct MountRunner {
    let source: MountSource
    let mountpoint: String
    let options: MountOptions
    let logger: Logger
    let reporter: ReadinessReporter
    /// How often STATUS= (and WATCHDOG=1, when systemd asks for it) is sent once mounted.
    var statusInterval: Duration = .seconds(5)
    let notifier = SystemdNotifier()

    /// What this mount offers the server at HELLO: OPENDIR_LIST, OPEN's first read, leases, and
    /// when it buffers writes the grant with CREATE and the file's attributes in WRITE replies.
    private var capabilities: ProtocolVersion.Capabilities {
        var capabilities: ProtocolVersion.Capabilities = self.options.leases ? [.leases, .listingLeases, .xattrLeases] : []
        capabilities.formUnion([.openAndList, .firstRead])
        if self.options.cache == .strict && self.options.writeback {
            capabilities.formUnion([.grantOnCreate, .writeAttributes])
        }
        if self.options.delegation && capabilities.contains(.grantOnCreate) { capabilities.insert(.delegation) }
        return capabilities
    }

    func run() async throws {
        let mountpoint = try Mountpoint.validated(self.mountpoint)
        HeapTuning.keepLargeBuffers()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let notices = NoticeDispatcher()
        do {
            try await self.serve(mountpoint: mountpoint, group: group, notices: notices)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    private func serve(mountpoint: String, group: MultiThreadedEventLoopGroup, notices: NoticeDispatcher) async throws {
        let security = try self.options.tlsDirectory.map { try ClientSecurity(directory: TLSDirectory($0)) }
        let renewals = SessionRenewalRelay()
        var resilience = ResiliencePolicy(
            softTimeout: self.options.soft ? .milliseconds(Int64(self.options.timeout * 1000)) : nil,
            logger: self.logger)
        resilience.onNewSession = { renewals.dispatch(()) }
        let reconnections = SessionRenewalRelay()
        resilience.onReconnect = { reconnections.dispatch(()) }
        let client = try await RPCClient.connect(
            servers: self.source.servers,
            clientName: "\(ProcessInfo.processInfo.hostName):\(mountpoint)", group: group,
            resilience: resilience, security: security, capabilities: self.capabilities,
            onNotice: { notices.dispatch($0) })
        let root: Entry
        do {
            root = try await self.resolveSubdirectory(client)
        } catch {
            await client.close()
            throw error
        }
        let maximumIO = min(client.hello.maximumTransaction, ProtocolVersion.minimumTransactionSize)
        let kernelNotifier = FUSENotifier()
        let operations = FileSystemOperations(
            client: client, root: root.handle, options: self.options, notifier: kernelNotifier, logger: self.logger)
        notices.setHandler { operations.handleNotice($0) }
        renewals.setHandler { _ in
            operations.writeBehind?.grantsLost()
            operations.writeback?.grantsLost()
        }
        reconnections.setHandler { _ in operations.leasesLost() }
        // Buffered writes reach the server within two seconds even when nobody fsyncs or closes.
        let writebackTimer = operations.writeback?.startTimer(every: .seconds(2), on: client.channel.eventLoop)
        let initialized = DispatchSemaphore(value: 0)
        let bridge = FUSEBridge(operations: operations, logger: self.logger, maximumIO: maximumIO) {
            initialized.signal()
        }
        let kernelOptions =
            // libfuse splits options at commas; a list of servers keeps its own escaped.
            ["fsname=\((self.options.fsname ?? self.source.description).replacingOccurrences(of: ",", with: "\\,"))", "subtype=pohmelfs", "max_read=\(maximumIO)"]
            + self.options.kernelOptions
        let session: FUSESession
        do {
            session = try FUSESession(options: kernelOptions, bridge: bridge, mountpoint: mountpoint)
            try session.mount()
            kernelNotifier.attach(session.pointer)
        } catch {
            await client.close()
            throw error
        }
        self.logger.info("mounted", metadata: [LogKey.mountpoint: "\(mountpoint)", LogKey.address: "\(self.source)"])

        let signals = UnmountSignals { [logger] number in
            logger.info("signal \(number): unmounting")
            session.exit()
        }
        if signals == nil {
            UnmountSignals.numbers.forEach { signal($0, SIG_IGN) }
            self.logger.warning("cannot watch SIGTERM, SIGINT and SIGHUP (no pipe): unmount with umount or fusermount3 -u")
        }
        defer { signals?.stop() }

        // Ready means FUSE INIT is done and the mount answers: only then READY=1 and detach.
        let reporter = self.reporter
        let notifier = self.notifier
        let description = self.source.description
        let mounted = MountedFlag()
        let statusSocket = StatusSocketSlot()
        let (mountSource, options, mountLogger) = (self.source, self.options, self.logger)
        Thread.detachNewThread {
            guard initialized.wait(timeout: .now() + 30) == .success else {
                reporter.failed("the kernel did not complete FUSE INIT within 30 s")
                return
            }
            // Four requests of readahead in flight: measured 420 -> 600 MB/s on cold sequential reads
            // against 1 MiB (one request) on this machine.
            Mountpoint.setReadahead(mountpoint, kilobytes: 4 * Int(maximumIO / 1024))
            // `pohmelfs status MOUNTPOINT` finds this socket from the mount's device number.
            let writeback = operations.writeback
            let pid = getpid()
            if let path = statusSocket.open(mountpoint: mountpoint, render: {
                MountStatus(
                    mountpoint: mountpoint, source: mountSource, pid: pid, client: client, options: options,
                    writeback: writeback
                ).json()
            }) {
                mountLogger.debug("status socket", metadata: ["path": "\(path)"])
            } else {
                mountLogger.warning("cannot create a status socket: pohmelfs status will not see this mount")
            }
            notifier.ready(status: "mounted \(description) at \(mountpoint)")
            mounted.value.store(true, ordering: .releasing)
            reporter.ready()
        }
        // Live figures for `systemctl status` while mounted; WATCHDOG=1 alongside when asked.
        let interval = min(self.notifier.watchdogInterval.map { $0 / 2 } ?? self.statusInterval, self.statusInterval)
        let statistics = client.statistics
        let statusLoop = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, mounted.value.load(ordering: .acquiring) else { continue }
                notifier.status("mounted \(description) at \(mountpoint); \(statistics.summary)")
                if notifier.watchdogInterval != nil { notifier.watchdog() }
            }
        }

        let heapTrimLoop = Task {
            var trimmer = IdleHeapTrimmer()
            while !Task.isCancelled {
                try? await Task.sleep(for: IdleHeapTrimmer.period)
                trimmer.tick(answered: statistics.completed.load(ordering: .relaxed))
            }
        }

        // Requests are read and answered on the connection's event loop (`FUSEEventLoopChannel`);
        // with POHMELFS_FUSE_EVENT_LOOP=0, or when that cannot be set up, by libfuse's loop on a
        // thread of its own.
        let environment = ProcessInfo.processInfo.environment
        let pollWindow = self.window(
            RequestPolling.windowMicroseconds(from: environment), RequestPolling.variable,
            fallback: RequestPolling.defaultWindowMicroseconds, environment: environment)
        let replyWindow = self.window(
            ReplyPolling.windowMicroseconds(from: environment), ReplyPolling.variable,
            fallback: ReplyPolling.defaultWindowMicroseconds, environment: environment)
        let served: Int32? =
            environment["POHMELFS_FUSE_EVENT_LOOP"] != "0"
            ? await FUSEEventLoopChannel.serve(
                session, polling: RequestPolling(windowMicroseconds: pollWindow),
                replyPolling: ReplyPolling(windowMicroseconds: replyWindow), statistics: client.statistics,
                socketWatch: client.socketWatch,
                on: client.channel.eventLoop, requestSize: Int(maximumIO) + 64 * 1024)
            : nil
        let status: Int32
        if let served {
            status = served
        } else {
            status = await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: session.loop()) }
            }
        }
        statusLoop.cancel()
        heapTrimLoop.cancel()
        statusSocket.close()
        self.notifier.stopping()
        // Closing the connection answers every request still in flight (with ENOTCONN), on the
        // event loop, before `close` returns; only then may the session be destroyed.
        kernelNotifier.attach(nil)
        writebackTimer?.cancel()
        // Files are closed (and written back) before an unmount completes; a lazy unmount of a
        // busy mount leaves bytes behind: send them before the connection goes.
        await operations.writeBehind?.drainAll()
        await operations.writeback?.writeBackAll()
        await client.close()
        operations.inodes.forgetAll()
        session.unmountAndDestroy()
        self.logger.info("unmounted", metadata: [LogKey.mountpoint: "\(mountpoint)", "status": "\(status)"])
    }

    /// The entry of `HOST:/SUBDIR`'s directory, looked up component by component.
    /// A polling window `parsed` from `variable`, or `fallback` after a warning when the value
    /// there is not a window.
    private func window(_ parsed: UInt64?, _ variable: String, fallback: UInt64, environment: [String: String]) -> UInt64 {
        if let parsed { return parsed }
        self.logger.warning(
            "\(variable) is not a number of microseconds from 0 to 1000; polling \(fallback) µs",
            metadata: ["value": "\(environment[variable] ?? "")"])
        return fallback
    }

    private func resolveSubdirectory(_ client: RPCClient) async throws -> Entry {
        var entry = client.hello.root
        for component in self.source.subdirectory {
            do {
                entry = try await client.call(LookupRequest(parent: entry.handle, name: FileName(component)))
            } catch let error as Errno {
                throw MountFailure("\(self.source): cannot find '\(component)' on the server: \(error)")
            }
            guard entry.attributes.isDirectory else {
                throw MountFailure("\(self.source): '\(component)' is not a directory on the server")
            }
        }
        return entry
    }
}

/// Set once FUSE INIT is done and READY=1 sent; only then do STATUS= lines follow.
private final class MountedFlag: Sendable {
    let value = Atomic<Bool>(false)
}

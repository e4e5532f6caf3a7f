import PohmelfsCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Shows a bench's progress on standard error: a redrawn bar on a terminal, or one plain line
/// per step (and per note) when standard error is a file or a pipe, so logs stay readable.
///
/// `advance(by:)` arrives from worker threads; the state sits behind one mutex and the bar is
/// redrawn at most ten times a second. Nothing is ever written to standard output, which belongs
/// to the table or the JSON.
final class ProgressBar: BenchProgress {
    private struct State {
        var step: BenchStep?
        var done = 0
        var lastDraw = ContinuousClock.now
        /// Whether a bar is on screen (and must be cleared before a plain line).
        var barShown = false
    }

    /// Protects the current step, its progress and the drawing time.
    private let state = Mutex(State())
    private let interactive: Bool

    init(interactive: Bool = isatty(2) == 1) {
        self.interactive = interactive
    }

    func stepStarted(_ step: BenchStep) {
        self.state.withLock { state in
            state.step = step
            state.done = 0
            if self.interactive { self.draw(&state) }
        }
    }

    func advance(by units: Int) {
        guard self.interactive else { return }
        self.state.withLock { state in
            state.done += units
            let now = ContinuousClock.now
            if now - state.lastDraw >= .milliseconds(100) {
                state.lastDraw = now
                self.draw(&state)
            }
        }
    }

    func stepFinished(_ step: BenchStep, summary: String) {
        self.state.withLock { state in
            self.clear(&state)
            Self.emit(
                "[\(step.index)/\(step.count)] run \(step.run)/\(step.runs) \(step.workload.rawValue) on "
                    + "\(step.targetLabel) (\(step.targetPath)): \(summary)\n")
            state.step = nil
        }
    }

    func note(_ message: String) {
        self.state.withLock { state in
            self.clear(&state)
            Self.emit("pohmelfs bench: \(message)\n")
            if self.interactive { self.draw(&state) }
        }
    }

    /// Removes the bar from the screen (call before exiting or printing).
    func finish() {
        self.state.withLock { self.clear(&$0) }
    }

    /// "[7/24] run 1/3 copy-out on B [##########----------]  52%  532 MiB of 1.0 GiB"
    private func draw(_ state: inout State) {
        guard let step = state.step else { return }
        let fraction = step.totalUnits > 0 ? min(1, Double(state.done) / Double(step.totalUnits)) : 0
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let amount: String
        switch step.unit {
        case .bytes: amount = "\(ByteCount(state.done)) of \(ByteCount(step.totalUnits))"
        case .files: amount = "\(state.done) of \(step.totalUnits) files"
        case .operations: amount = "\(state.done) ops"
        }
        let percent = Int(fraction * 100)
        let padding = String(repeating: " ", count: 3 - String(percent).count)
        Self.emit(
            "\r\u{1B}[K[\(step.index)/\(step.count)] run \(step.run)/\(step.runs) \(step.workload.rawValue) on "
                + "\(step.targetLabel) [\(bar)] \(padding)\(percent)%  \(amount)"
        )
        state.barShown = true
    }

    private func clear(_ state: inout State) {
        if state.barShown {
            Self.emit("\r\u{1B}[K")
            state.barShown = false
        }
    }

    private static func emit(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}

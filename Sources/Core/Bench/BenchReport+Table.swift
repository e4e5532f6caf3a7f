extension BenchReport {
    /// The report as an aligned text table for people: a header naming the settings and the
    /// targets, one row per figure with each target's median (min–max over runs) and, for every
    /// target after the first, its ratio to the first ("vs A": above 1× is better), then notes,
    /// verification and errors.
    ///
    /// A cell is "failed" when the workload failed on that target and "–" when it has no figure.
    public func renderTable() -> String {
        var lines: [String] = []
        let runs = self.settings.runs
        lines.append(
            "pohmelfs bench: \(runs) run\(runs == 1 ? "" : "s"), size \(ByteCount(self.settings.sizeBytes)), "
                + "\(FigureFormat.grouped(self.settings.files)) files, \(self.settings.jobs) job"
                + "\(self.settings.jobs == 1 ? "" : "s"), seed \(self.settings.seed)")
        let spread = runs > 1 ? "median (min–max) over the runs" : "the one run's figure"
        lines.append(
            self.targets.count > 1
                ? "each cell: \(spread); vs \(self.firstLabel): speed against \(self.firstLabel), above 1× is better"
                : "each cell: \(spread)")
        let pathWidth = self.targets.map(\.path.count).max() ?? 0
        for target in self.targets {
            lines.append("  \(target.label)  \(Self.pad(target.path, pathWidth))  \(target.filesystem)")
        }
        lines.append("")

        var header = ["workload", "figure", "unit"]
        var rightAligned = [false, false, false]
        for target in self.targets {
            header.append(target.label)
            rightAligned.append(true)
            if target.index > 0 {
                header.append("vs \(self.firstLabel)")
                rightAligned.append(true)
            }
        }
        var rows: [[String]] = []
        for workload in self.settings.workloads {
            for (position, metric) in workload.metrics.enumerated() {
                var row = [position == 0 ? workload.rawValue : "", metric.name, metric.unit]
                for target in self.targets {
                    let figure = self.figure(metric, target: target.index)
                    row.append(self.cell(figure, workload: workload, target: target.index))
                    if target.index > 0 {
                        row.append(figure?.ratioToFirst.map(FigureFormat.ratio) ?? "")
                    }
                }
                rows.append(row)
            }
        }
        lines += Self.align([header] + rows, rightAligned: rightAligned, ruleAfterFirst: true)

        let noted = self.figures.filter { !$0.notes.isEmpty }
        var seenNotes = Set<String>()
        var noteLines: [String] = []
        for figure in noted {
            for note in figure.notes {
                let line = "  \(self.targets[figure.target].label) \(figure.workload.rawValue): \(note)"
                if seenNotes.insert(line).inserted { noteLines.append(line) }
            }
        }
        if !noteLines.isEmpty {
            lines.append("")
            lines.append("notes:")
            lines += noteLines
        }

        lines += self.atomicitySummary()
        lines += self.cpuSummary()

        lines.append("")
        let files = self.verification.verifiedFiles
        let verified =
            "verified \(ByteCount(self.verification.verifiedBytes))"
            + (files > 0 ? " in \(FigureFormat.grouped(files)) files" : "")
        if self.verification.mismatches.isEmpty {
            lines.append("\(verified): every byte matched what was written")
        } else {
            lines.append("\(verified): \(self.verification.mismatches.count) CHECKSUM MISMATCHES")
            for mismatch in self.verification.mismatches.prefix(20) {
                lines.append(
                    "  \(self.targets[mismatch.target].label) \(mismatch.workload.rawValue) run \(mismatch.run): "
                        + "\(mismatch.path): \(mismatch.detail)")
            }
            if self.verification.mismatches.count > 20 {
                lines.append("  … and \(self.verification.mismatches.count - 20) more (see --json)")
            }
        }
        for error in self.errors {
            let what = error.workload.map { " \($0.rawValue)" } ?? ""
            let when = error.run.map { " run \($0)" } ?? ""
            lines.append("error: \(self.targets[error.target].label)\(what)\(when): \(error.message)")
        }
        if self.interrupted { lines.append("interrupted: the figures cover the steps that finished") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// "check-atomic: A 149 torn reads of 3,750 (4.0 %): overlapping writes are not atomic here".
    private func atomicitySummary() -> [String] {
        let readsMetric = Metric(.checkAtomic, "reads", unit: "reads", better: .none)
        let tornMetric = Metric(.checkAtomic, "torn-reads", unit: "reads", better: .none)
        var lines: [String] = []
        for target in self.targets {
            guard let reads = self.figure(readsMetric, target: target.index),
                let torn = self.figure(tornMetric, target: target.index)
            else { continue }
            let totalReads = reads.samples.reduce(0, +)
            let totalTorn = torn.samples.reduce(0, +)
            let share = totalReads > 0 ? 100 * totalTorn / totalReads : 0
            let verdict =
                totalTorn == 0
                ? "every read saw whole transactions"
                : "overlapping 1 MiB writes are not atomic here"
            lines.append(
                "  \(target.label): \(FigureFormat.count(totalTorn)) torn reads of \(FigureFormat.count(totalReads)) "
                    + "(\(FigureFormat.fixed(share, decimals: 1)) %): \(verdict)")
        }
        return lines.isEmpty ? [] : ["", "check-atomic over all runs:"] + lines
    }

    /// The first target's label ("A").
    var firstLabel: String { self.targets.first?.label ?? "A" }

    private func cell(_ figure: Figure?, workload: Workload, target: Int) -> String {
        guard let figure else {
            return self.errors.contains { $0.target == target && $0.workload == workload } ? "failed" : "–"
        }
        let counts = figure.better == .none
        let format: (Double) -> String = { counts ? FigureFormat.count($0) : FigureFormat.figure($0) }
        let median = format(figure.median)
        if figure.samples.count < 2 { return median }
        return "\(median) (\(format(figure.min))–\(format(figure.max)))"
    }

    /// Lays out rows in columns two spaces apart, numbers right-aligned; trailing spaces trimmed.
    static func align(_ rows: [[String]], rightAligned: [Bool], ruleAfterFirst: Bool) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        var lines: [String] = []
        for (rowIndex, row) in rows.enumerated() {
            var line = ""
            for (index, cell) in row.enumerated() {
                if index > 0 { line += "  " }
                line += rightAligned[index] ? Self.padLeft(cell, widths[index]) : Self.pad(cell, widths[index])
            }
            lines.append(Self.trimTrailingSpaces(line))
            if rowIndex == 0 && ruleAfterFirst {
                lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
            }
        }
        return lines
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    static func trimTrailingSpaces(_ text: String) -> String {
        var result = text
        while result.last == " " { result.removeLast() }
        return result
    }
}

#if canImport(Glibc)
    import Glibc
#endif

extension BenchReport {
    /// Geometry and colours of the chart, in SVG user units (pixels at 100 %).
    enum ChartStyle {
        static let width = 1000.0
        static let left = 240.0
        /// The label column right of the plot: labels never cross the bars or the 1× line.
        static let right = 230.0
        /// The ratio axis is linear from 0 to this; longer bars are clipped and marked.
        static let clip = 2.0
        static let barHeight = 14.0
        static let barGap = 3.0
        static let groupGap = 16.0
        static let minimumGroupHeight = 30.0
        static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"
        /// Tableau 10: distinguishable, and readable in grey.
        static let palette = [
            "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
            "#bab0ac",
        ]
        static func colour(_ index: Int) -> String { Self.palette[index % Self.palette.count] }
    }

    /// The report as an SVG bar chart (`--plot FILE.svg`): one group of horizontal bars per
    /// figure, one bar per target, each bar the target's median as a ratio to the first target's
    /// (so the first target's bars end at 1×), on a linear axis from 0 to 2× so that a bar's
    /// length is its ratio (a 0.25× bar is a quarter of the 1× bar); a bar beyond 2× is clipped
    /// there and marked with an arrow, its ratio in its label. A thin line with end caps over each
    /// bar spans the runs' min–max as ratios. Labels (median, unit, ratio) sit in a column of
    /// their own right of the plot, never over a bar or the 1× line. A legend names the targets.
    /// With one target there is nothing to compare: the chart lists the figures without bars.
    /// Self-contained SVG 1.1 that any browser shows.
    ///
    /// Figures whose metric has no direction (the atomicity check's counts) and the second of
    /// pairs that always give the same ratio (a tree's files/s) are left out.
    public func renderChart() -> String {
        let style = ChartStyle.self
        let metrics = self.settings.workloads.flatMap(\.metrics).filter { metric in
            metric.charted && self.targets.contains { self.figure(metric, target: $0.index) != nil }
        }
        let comparing = self.targets.count > 1
        let ticks = comparing ? Self.chartTicks() : []
        let plotWidth = style.width - style.left - style.right
        func x(_ ratio: Double) -> Double {
            style.left + min(max(ratio, 0), style.clip) / style.clip * plotWidth
        }
        // With one target the labels are all there is: next to the names.
        let labelX = comparing ? style.left + plotWidth + 12 : style.left + 4

        let legendTop = 64.0
        let plotTop = legendTop + Double(self.targets.count) * 18 + 14
        let groupHeight = max(
            style.minimumGroupHeight, Double(self.targets.count) * (style.barHeight + style.barGap) - style.barGap)
        let plotHeight = max(40, Double(metrics.count) * (groupHeight + style.groupGap))
        let notes = self.chartNotes()
        let height = plotTop + plotHeight + 64 + Double(notes.count) * 16

        var svg: [String] = []
        svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        svg.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(Self.number(style.width))\" "
                + "height=\"\(Self.number(height))\" "
                + "viewBox=\"0 0 \(Self.number(style.width)) \(Self.number(height))\" "
                + "font-family=\"\(style.fontFamily)\" font-size=\"12\">")
        let reference = self.targets.first.map { "\($0.label) (\($0.path))" } ?? "A"
        svg.append(
            "<title>\(Self.xml("pohmelfs bench: every workload on every target, relative to \(reference)"))</title>")
        svg.append("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")
        svg.append(
            "<text x=\"20\" y=\"28\" font-size=\"18\" font-weight=\"bold\">"
                + "\(Self.xml(comparing ? "pohmelfs bench: each figure relative to \(self.firstLabel)" : "pohmelfs bench: every figure on \(self.firstLabel)"))</text>")
        let runs = self.settings.runs
        svg.append(
            "<text x=\"20\" y=\"48\" fill=\"#444444\">"
                + Self.xml(
                    "\(runs) run\(runs == 1 ? "" : "s"), size \(ByteCount(self.settings.sizeBytes)), "
                        + "\(FigureFormat.grouped(self.settings.files)) files, \(self.settings.jobs) job"
                        + "\(self.settings.jobs == 1 ? "" : "s"); "
                        + (comparing
                            ? "bar = median as a ratio to \(self.firstLabel)'s, line = min–max of the runs; longer is better"
                            : "one target: nothing to compare, the figures alone"))
                + "</text>")

        // Legend: one swatch per target.
        for target in self.targets {
            let y = legendTop + Double(target.index) * 18
            svg.append(
                "<rect x=\"20\" y=\"\(Self.number(y))\" width=\"12\" height=\"12\" "
                    + "fill=\"\(style.colour(target.index))\"/>")
            svg.append(
                "<text x=\"38\" y=\"\(Self.number(y + 10))\">"
                    + Self.xml("\(target.label)  \(target.path)  (\(target.filesystem))") + "</text>")
        }

        // Grid lines and tick labels; the 1× line is the reference.
        let plotBottom = plotTop + plotHeight
        for tick in ticks {
            let tx = x(tick)
            let isOne = abs(tick - 1) < 1e-9
            let labelled = (tick * 2).rounded() == tick * 2
            svg.append(
                "<line x1=\"\(Self.number(tx))\" y1=\"\(Self.number(plotTop - 4))\" x2=\"\(Self.number(tx))\" "
                    + "y2=\"\(Self.number(plotBottom))\" stroke=\"\(isOne ? "#333333" : (labelled ? "#d0d0d0" : "#ececec"))\" "
                    + "stroke-width=\"1\"" + (isOne ? " stroke-dasharray=\"4 3\"" : "") + "/>")
            if labelled {
                svg.append(
                    "<text x=\"\(Self.number(tx))\" y=\"\(Self.number(plotBottom + 16))\" text-anchor=\"middle\">"
                        + Self.xml(Self.tickLabel(tick)) + "</text>")
            }
        }
        if comparing {
            svg.append(
                "<line x1=\"\(Self.number(style.left))\" y1=\"\(Self.number(plotBottom))\" "
                    + "x2=\"\(Self.number(style.left + plotWidth))\" y2=\"\(Self.number(plotBottom))\" stroke=\"#333333\"/>"
            )
            svg.append(
                "<text x=\"\(Self.number(style.left + plotWidth / 2))\" y=\"\(Self.number(plotBottom + 38))\" "
                    + "text-anchor=\"middle\" fill=\"#333333\">"
                    + Self.xml(
                        "speed relative to \(self.firstLabel) (× \(self.firstLabel)'s median, linear scale, bars clipped at "
                            + "2× ▸; right of 1× is better than \(self.firstLabel))") + "</text>")
        }

        if metrics.isEmpty {
            svg.append(
                "<text x=\"\(Self.number(style.left))\" y=\"\(Self.number(plotTop + 20))\">no figures to chart</text>")
        }
        for (groupIndex, metric) in metrics.enumerated() {
            let groupTop = plotTop + Double(groupIndex) * (groupHeight + style.groupGap)
            let direction = metric.better == .lower ? "lower is better" : "higher is better"
            svg.append(
                "<text x=\"\(Self.number(style.left - 10))\" y=\"\(Self.number(groupTop + 11))\" "
                    + "text-anchor=\"end\" font-weight=\"bold\">\(Self.xml(metric.label))</text>")
            svg.append(
                "<text x=\"\(Self.number(style.left - 10))\" y=\"\(Self.number(groupTop + 25))\" "
                    + "text-anchor=\"end\" fill=\"#555555\" font-size=\"11\">"
                    + Self.xml("\(metric.unit), \(direction)") + "</text>")
            for target in self.targets {
                let y = groupTop + Double(target.index) * (style.barHeight + style.barGap)
                guard let figure = self.figure(metric, target: target.index) else {
                    let failed = self.errors.contains { $0.target == target.index && $0.workload == metric.workload }
                    svg.append(
                        "<text x=\"\(Self.number(labelX))\" y=\"\(Self.number(y + 11))\" fill=\"#999999\">"
                            + Self.xml("\(target.label): \(failed ? "failed" : "no figure")") + "</text>")
                    continue
                }
                let valueText =
                    "\(target.label) \(FigureFormat.figure(figure.median)) \(figure.unit)"
                    + (comparing ? (figure.ratioToFirst.map { " · " + FigureFormat.ratio($0) } ?? " · no ratio") : "")
                    + (figure.notes.isEmpty ? "" : " †")
                if comparing, let ratio = figure.ratioToFirst, ratio > 0 {
                    let end = x(ratio)
                    svg.append(
                        "<rect x=\"\(Self.number(style.left))\" y=\"\(Self.number(y))\" "
                            + "width=\"\(Self.number(max(1, end - style.left)))\" "
                            + "height=\"\(Self.number(style.barHeight))\" "
                            + "fill=\"\(style.colour(target.index))\"><title>"
                            + Self.xml("\(target.path): \(valueText)") + "</title></rect>")
                    if ratio > style.clip {
                        // Clipped: an arrowhead past the end says the bar goes on.
                        let top = y + 1
                        let bottom = y + style.barHeight - 1
                        svg.append(
                            "<path d=\"M \(Self.number(end + 1)) \(Self.number(top)) L \(Self.number(end + 9)) "
                                + "\(Self.number((top + bottom) / 2)) L \(Self.number(end + 1)) \(Self.number(bottom)) Z\" "
                                + "fill=\"\(style.colour(target.index))\"/>")
                    }
                    if let (low, high) = self.spreadRatios(figure, metric: metric), high > low {
                        let middle = Self.number(y + style.barHeight / 2)
                        let (from, to) = (Self.number(x(low)), Self.number(x(high)))
                        func cap(_ at: String) -> String {
                            " M \(at) \(Self.number(y + 3)) L \(at) \(Self.number(y + style.barHeight - 3))"
                        }
                        // No cap where the axis clips the line: its end is beyond 2×.
                        let caps = (low < style.clip ? cap(from) : "") + (high <= style.clip ? cap(to) : "")
                        svg.append(
                            "<path d=\"M \(from) \(middle) L \(to) \(middle)\(caps)\" stroke=\"#222222\" "
                                + "stroke-width=\"1.2\" fill=\"none\">"
                                + "<title>\(Self.xml("min–max of the runs: \(FigureFormat.ratio(low))–\(FigureFormat.ratio(high))"))</title></path>")
                    }
                }
                svg.append(
                    "<text x=\"\(Self.number(labelX))\" y=\"\(Self.number(y + 11))\">\(Self.xml(valueText))</text>")
            }
        }

        for (index, note) in notes.enumerated() {
            let y = plotBottom + 60 + Double(index) * 16
            svg.append(
                "<text x=\"20\" y=\"\(Self.number(y))\" fill=\"#555555\" font-size=\"11\">\(Self.xml(note))</text>")
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// "† B copy-out: warm: caches not dropped (not root)", once each.
    private func chartNotes() -> [String] {
        var seen = Set<String>()
        var lines: [String] = []
        for figure in self.figures where figure.metricDefinition?.charted ?? false {
            for note in figure.notes {
                let line = "† \(self.targets[figure.target].label) \(figure.workload.rawValue): \(note)"
                if seen.insert(line).inserted { lines.append(line) }
            }
        }
        return lines
    }

    /// The runs' min and max of `figure` as ratios to the first target's median, in the chart's
    /// sense (higher is better: a lower-is-better metric's ratio is first/this).
    func spreadRatios(_ figure: Figure, metric: Metric) -> (Double, Double)? {
        guard let reference = self.figure(metric, target: 0)?.median, reference > 0, figure.min > 0, figure.max > 0
        else { return nil }
        if figure.better == .lower { return (reference / figure.max, reference / figure.min) }
        return (figure.min / reference, figure.max / reference)
    }

    /// Grid lines every 0.25× from 0 to 2×; those at every 0.5× are labelled.
    static func chartTicks() -> [Double] {
        stride(from: 0.0, through: ChartStyle.clip, by: 0.25).map { $0 }
    }

    /// "0×", "0.5×", "1×", "1.5×".
    static func tickLabel(_ value: Double) -> String {
        let decimals = value == value.rounded() ? 0 : 2
        var text = FigureFormat.fixed(value, decimals: decimals)
        if text.contains(".") {
            while text.last == "0" { text.removeLast() }
            if text.last == "." { text.removeLast() }
        }
        return text + "×"
    }

    /// A coordinate with at most one decimal.
    static func number(_ value: Double) -> String {
        let text = FigureFormat.fixed(value, decimals: 1)
        let plain = text.replacingCommas()
        return plain.hasSuffix(".0") ? String(plain.dropLast(2)) : plain
    }

    /// Text escaped for XML character data and attribute values.
    static func xml(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0.
                if let scalar = character.unicodeScalars.first, scalar.value < 0x20, scalar != "\t", scalar != "\n" {
                    result += "?"
                } else {
                    result.append(character)
                }
            }
        }
        return result
    }
}

extension String {
    /// The string without thousands separators ("1,234.5" → "1234.5").
    fileprivate func replacingCommas() -> String { String(self.filter { $0 != "," }) }
}

#if canImport(Glibc)
    import Glibc
#endif

extension BenchReport {
    /// Geometry and colours of the chart, in SVG user units (pixels at 100 %).
    enum ChartStyle {
        static let width = 1000.0
        static let left = 240.0
        static let right = 200.0
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
    /// (so the first target's bars end at 1×), on a logarithmic axis so that 0.1× and 10× are as
    /// far from 1× as each other. Each bar is labelled with its median and unit and its ratio; a
    /// legend names the targets. Self-contained SVG 1.1 that any browser shows.
    ///
    /// Figures whose metric has no direction (the atomicity check's counts) and the second of
    /// pairs that always give the same ratio (a tree's files/s) are left out.
    public func renderChart() -> String {
        let style = ChartStyle.self
        let metrics = self.settings.workloads.flatMap(\.metrics).filter { metric in
            metric.charted && self.targets.contains { self.figure(metric, target: $0.index) != nil }
        }
        let ratios = self.figures.compactMap { figure -> Double? in
            guard let ratio = figure.ratioToFirst, ratio > 0,
                metrics.contains(where: { $0.workload == figure.workload && $0.name == figure.metric })
            else { return nil }
            return ratio
        }
        let (lower, upper) = Self.chartDomain(ratios)
        let ticks = Self.chartTicks(lower: lower, upper: upper)
        let plotWidth = style.width - style.left - style.right
        func x(_ ratio: Double) -> Double {
            let clamped = min(max(ratio, lower), upper)
            return style.left + (log10(clamped) - log10(lower)) / (log10(upper) - log10(lower)) * plotWidth
        }

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
                + "\(Self.xml("pohmelfs bench: each figure relative to \(self.firstLabel)"))</text>")
        let runs = self.settings.runs
        svg.append(
            "<text x=\"20\" y=\"48\" fill=\"#444444\">"
                + Self.xml(
                    "\(runs) run\(runs == 1 ? "" : "s"), size \(ByteCount(self.settings.sizeBytes)), "
                        + "\(FigureFormat.grouped(self.settings.files)) files, \(self.settings.jobs) job"
                        + "\(self.settings.jobs == 1 ? "" : "s"); bar = median as a ratio to \(self.firstLabel)'s, "
                        + "label = median and ratio; longer is better")
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
            svg.append(
                "<line x1=\"\(Self.number(tx))\" y1=\"\(Self.number(plotTop - 4))\" x2=\"\(Self.number(tx))\" "
                    + "y2=\"\(Self.number(plotBottom))\" stroke=\"\(isOne ? "#333333" : "#dddddd")\" stroke-width=\"1\""
                    + (isOne ? " stroke-dasharray=\"4 3\"" : "") + "/>")
            svg.append(
                "<text x=\"\(Self.number(tx))\" y=\"\(Self.number(plotBottom + 16))\" text-anchor=\"middle\">"
                    + Self.xml(Self.tickLabel(tick)) + "</text>")
        }
        svg.append(
            "<line x1=\"\(Self.number(style.left))\" y1=\"\(Self.number(plotBottom))\" "
                + "x2=\"\(Self.number(style.left + plotWidth))\" y2=\"\(Self.number(plotBottom))\" stroke=\"#333333\"/>"
        )
        svg.append(
            "<text x=\"\(Self.number(style.left + plotWidth / 2))\" y=\"\(Self.number(plotBottom + 38))\" "
                + "text-anchor=\"middle\" fill=\"#333333\">"
                + Self.xml(
                    "speed relative to \(self.firstLabel) (× \(self.firstLabel)'s median, logarithmic scale; "
                        + "right of 1× is better than \(self.firstLabel))") + "</text>")

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
                        "<text x=\"\(Self.number(style.left + 4))\" y=\"\(Self.number(y + 11))\" fill=\"#999999\">"
                            + Self.xml("\(target.label): \(failed ? "failed" : "no figure")") + "</text>")
                    continue
                }
                let valueText =
                    "\(target.label) \(FigureFormat.figure(figure.median)) \(figure.unit)"
                    + (figure.ratioToFirst.map { " · " + FigureFormat.ratio($0) } ?? " · no ratio")
                    + (figure.notes.isEmpty ? "" : " †")
                if let ratio = figure.ratioToFirst, ratio > 0 {
                    let end = x(ratio)
                    svg.append(
                        "<rect x=\"\(Self.number(style.left))\" y=\"\(Self.number(y))\" "
                            + "width=\"\(Self.number(max(1, end - style.left)))\" "
                            + "height=\"\(Self.number(style.barHeight))\" "
                            + "fill=\"\(style.colour(target.index))\"><title>"
                            + Self.xml("\(target.path): \(valueText)") + "</title></rect>")
                    svg.append(
                        "<text x=\"\(Self.number(end + 5))\" y=\"\(Self.number(y + 11))\">\(Self.xml(valueText))</text>"
                    )
                } else {
                    svg.append(
                        "<text x=\"\(Self.number(style.left + 4))\" y=\"\(Self.number(y + 11))\">"
                            + Self.xml(valueText) + "</text>")
                }
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

    /// The axis range: 1× and every ratio inside, with some room, snapped out to 1-2-5 values;
    /// at least 0.5×–2×.
    static func chartDomain(_ ratios: [Double]) -> (Double, Double) {
        let low = min(ratios.min() ?? 1, 1) / 1.15
        let high = max(ratios.max() ?? 1, 1) * 1.15
        return (min(Self.niceBelow(low), 0.5), max(Self.niceAbove(high), 2))
    }

    /// Tick positions: the 1-2-5 values in the range, or only the powers of ten when the range
    /// spans more than four decades.
    static func chartTicks(lower: Double, upper: Double) -> [Double] {
        let decades = log10(upper) - log10(lower)
        let steps: [Double] = decades > 4 ? [1] : (decades > 2 ? [1, 3] : [1, 2, 5])
        var ticks: [Double] = []
        var exponent = floor(log10(lower)) - 1
        while exponent <= ceil(log10(upper)) + 1 {
            for step in steps {
                let value = step * pow(10, exponent)
                if value >= lower * (1 - 1e-9) && value <= upper * (1 + 1e-9) { ticks.append(value) }
            }
            exponent += 1
        }
        if !ticks.contains(where: { abs($0 - 1) < 1e-9 }) { ticks.append(1) }
        return ticks.sorted()
    }

    static func niceBelow(_ value: Double) -> Double {
        let exponent = floor(log10(value))
        let base = pow(10, exponent)
        for step in [5.0, 2, 1] where step * base <= value { return step * base }
        return base
    }

    static func niceAbove(_ value: Double) -> Double {
        let exponent = floor(log10(value))
        let base = pow(10, exponent)
        for step in [1.0, 2, 5, 10] where step * base >= value { return step * base }
        return 10 * base
    }

    /// "0.01×", "0.5×", "1×", "20×".
    static func tickLabel(_ value: Double) -> String {
        let decimals = value >= 1 ? 0 : Int((-log10(value)).rounded(.up))
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

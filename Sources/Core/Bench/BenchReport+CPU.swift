extension BenchReport {
    /// The table's CPU section: for every figure measured with watched processes (`--cpu`), the
    /// microseconds of CPU each of them spent per operation. Empty when nothing was watched.
    func cpuSummary() -> [String] {
        let figures = self.figures.filter { !($0.cpuPerOperation ?? [:]).isEmpty }
        guard !figures.isEmpty else { return [] }
        var lines = [
            "", "CPU per operation (µs; an operation is a read, a MiB copied, a metadata operation):",
        ]
        for figure in figures {
            let roles = (figure.cpuPerOperation ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key) \(FigureFormat.fixed($0.value, decimals: 1))" }
            let total = (figure.cpuPerOperation ?? [:]).values.reduce(0, +)
            lines.append(
                "  \(self.targets[figure.target].label) \(figure.workload.rawValue) \(figure.metric): "
                    + roles.joined(separator: ", ") + (roles.count > 1 ? ", total \(FigureFormat.fixed(total, decimals: 1))" : ""))
        }
        return lines
    }
}

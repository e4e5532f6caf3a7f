#!/usr/bin/env python3
"""The final table of `make bench`: every figure side by side, then the open issues' targets
(metadata, data path) with pohmelfs's ratio to each peer and whether it is met.

Reads the report of `pohmelfs bench --json` (whose targets are named here in command-line order
with --names), the JSON of bench_external.py (tar -xf, cp -r, dbench; targets already named),
and the RSS samples the driver took during the run (lines "NAME KIB", any number per name).

A ratio is pohmelfs's speed-up over the peer, above 1 always meaning pohmelfs is faster:
value ÷ peer for throughput and rates, peer ÷ value for seconds. A target whose peer or figure
was not measured is "n/a", never "met".

Usage: bench_targets.py --bench FILE --names local,passthrough,pohmelfs,sshfs
                        [--external FILE] [--rss FILE] [--client-cache-mib N]
Exit status 0 whatever is met: the table is the result; a failed bench has its own status.
"""

import argparse
import json
import sys

SUBJECT = "pohmelfs"
PEERS = ["local", "passthrough", "sshfs"]

# (what the open issues ask, workload, metric, peer, least ratio): issue 16 (metadata at local
# speed) and issue 17 (the data path at the FUSE ceiling), their "Done when" lists.
RATIO_TARGETS = [
    ("tar -xf no slower than passthrough_ll", "tar-x", "elapsed", "passthrough", 1.0),
    ("tar -xf >= 5x sshfs", "tar-x", "elapsed", "sshfs", 5.0),
    ("rm -rf no slower than passthrough_ll", "rm-rf", "elapsed", "passthrough", 1.0),
    ("rm -rf >= 5x sshfs", "rm-rf", "elapsed", "sshfs", 5.0),
    ("cp -r out no slower than passthrough_ll", "cp-out", "elapsed", "passthrough", 1.0),
    ("create empty files >= passthrough_ll", "metadata", "create", "passthrough", 1.0),
    ("unlink >= passthrough_ll", "metadata", "unlink", "passthrough", 1.0),
    ("warm stat >= 0.5x local", "metadata", "stat", "local", 0.5),
    ("warm find >= 10x sshfs", "find-warm", "elapsed", "sshfs", 10.0),
    ("git status within 2x local", "git-status", "elapsed", "local", 0.5),
    ("random 4 KiB direct read QD16 >= 0.8x passthrough_ll", "random-read", "qd16", "passthrough", 0.8),
    ("random 4 KiB direct read QD16 >= 3x sshfs", "random-read", "qd16", "sshfs", 3.0),
    ("random 4 KiB direct read QD1 >= 0.9x passthrough_ll", "random-read", "qd1", "passthrough", 0.9),
    ("1 GiB sequential write (fsync) >= 1.0x passthrough_ll", "copy-in", "throughput", "passthrough", 1.0),
    ("1 GiB cold sequential read >= 1.0x passthrough_ll", "copy-out", "throughput", "passthrough", 1.0),
    ("1 GiB cached re-read >= 0.9x local", "copy-out-cached", "throughput", "local", 0.9),
    ("dbench >= 1.0x passthrough_ll", "dbench", "throughput", "passthrough", 1.0),
]

SERVER_RSS_LIMIT_MIB = 256
CLIENT_RSS_HEADROOM_MIB = 64


def load_figures(bench, names, external):
    """{(workload, metric): {"unit", "better", "values": {target name: median}}}."""
    figures = {}

    def add(figure, name):
        entry = figures.setdefault(
            (figure["workload"], figure["metric"]), {"unit": figure["unit"], "better": figure["better"], "values": {}})
        entry["values"][name] = figure["median"]

    for figure in bench.get("figures", []):
        index = figure["target"]
        add(figure, names[index] if index < len(names) else bench["targets"][index]["label"])
    for figure in (external or {}).get("figures", []):
        add(figure, figure["target"])
    return figures


def ratio(value, peer, better):
    """pohmelfs's speed-up over the peer (above 1 is faster), or None."""
    if value is None or peer is None:
        return None
    if better == "higher":
        return value / peer if peer > 0 else None
    if better == "lower":
        return peer / value if value > 0 else None
    return None


def peak_rss(lines):
    """{name: peak KiB} from "NAME KIB" lines; malformed lines are skipped."""
    peaks = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            peaks[parts[0]] = max(peaks.get(parts[0], 0), int(parts[1]))
    return peaks


def number(value):
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def times(value):
    return "-" if value is None else f"{value:.2f}x"


def table(rows):
    """Left-aligned first column, right-aligned others, two spaces apart."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for number_, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i + 1]) for i, cell in enumerate(row[1:])]
        lines.append("  ".join(cells).rstrip())
        if number_ == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def figures_table(figures, names):
    present = [name for name in names if any(name in entry["values"] for entry in figures.values())]
    peers = [peer for peer in PEERS if peer in present]
    header = ["figure", "unit"] + present + [f"{SUBJECT}/{peer}" for peer in peers if SUBJECT in present]
    rows = [header]
    for (workload, metric), entry in figures.items():
        if entry["better"] == "none":
            continue
        values = entry["values"]
        row = [f"{workload} {metric}", entry["unit"]] + [number(values.get(name)) for name in present]
        if SUBJECT in present:
            row += [times(ratio(values.get(SUBJECT), values.get(peer), entry["better"])) for peer in peers]
        rows.append(row)
    return table(rows)


def cpu_table(bench, names):
    """CPU per operation of each target's watched processes (`pohmelfs bench --cpu`), µs: one
    row per figure, one cell per target ("server 10.5 + client 20.8 = 31.3"); None without any."""
    cells = {}
    for figure in bench.get("figures", []):
        roles = figure.get("cpuPerOperation")
        target = figure.get("target")
        if not roles or target is None or target >= len(names):
            continue
        parts = [f"{role} {value:.1f}" for role, value in sorted(roles.items())]
        text = " + ".join(parts) + (f" = {sum(roles.values()):.1f}" if len(parts) > 1 else "")
        cells.setdefault((figure["workload"], figure["metric"]), {})[names[target]] = text
    if not cells:
        return None
    present = [name for name in names if any(name in row for row in cells.values())]
    rows = [["figure"] + present]
    for (workload, metric), row in cells.items():
        rows.append([f"{workload} {metric}"] + [row.get(name, "-") for name in present])
    return table(rows)


def targets_table(figures, peaks, client_cache_mib):
    rows = [["target", SUBJECT, "vs local", "vs passthrough", "vs sshfs", "needed", "result"]]
    verdicts = []
    for text, workload, metric, peer, least in RATIO_TARGETS:
        entry = figures.get((workload, metric), {"values": {}, "better": "higher", "unit": ""})
        values = entry["values"]
        mine = values.get(SUBJECT)
        achieved = ratio(mine, values.get(peer), entry["better"])
        result = "n/a" if achieved is None else ("met" if achieved >= least else "missed")
        verdicts.append(result)
        shown = [times(ratio(mine, values.get(other), entry["better"])) for other in PEERS]
        rows.append([text, f"{number(mine)} {entry['unit']}".strip() if mine is not None else "-", *shown,
                     f"{least:g}x {peer}", result])
    client = peaks.get("pohmelfs-client")
    bound = client_cache_mib + CLIENT_RSS_HEADROOM_MIB
    result = "n/a" if client is None else ("met" if client / 1024 <= bound else "missed")
    verdicts.append(result)
    rows.append([f"client RSS <= cache bound ({client_cache_mib} MiB) + 64 MiB",
                 "-" if client is None else f"{client / 1024:.0f} MiB", "", "", "", f"<= {bound} MiB", result])
    server = peaks.get("pohmelfs-server")
    result = "n/a" if server is None else ("met" if server / 1024 < SERVER_RSS_LIMIT_MIB else "missed")
    verdicts.append(result)
    rows.append(["server RSS < 256 MiB (1 client here, not 16)",
                 "-" if server is None else f"{server / 1024:.0f} MiB", "", "", "", f"< {SERVER_RSS_LIMIT_MIB} MiB",
                 result])
    summary = ", ".join(f"{verdicts.count(kind)} {kind}" for kind in ("met", "missed", "n/a"))
    return table(rows) + f"\n\ntargets: {summary}"


def render(bench, names, external=None, rss_lines=(), client_cache_mib=0):
    figures = load_figures(bench, names, external)
    peaks = peak_rss(rss_lines)
    parts = ["All figures (medians; ratios are pohmelfs's speed-up, above 1 = pohmelfs faster):", "",
             figures_table(figures, names), ""]
    cpu = cpu_table(bench, names)
    if cpu:
        parts += ["CPU per operation, µs (a read, a MiB copied, a metadata operation; all threads of "
                  "each process, from /proc/PID/stat):", "", cpu, ""]
    if peaks:
        parts += ["Peak RSS during the run: " + ", ".join(f"{name} {kib / 1024:.0f} MiB"
                                                          for name, kib in sorted(peaks.items())), ""]
    def name_of(index):
        return names[index] if index is not None and index < len(names) else "-"

    notes = sorted({f"{name_of(figure['target'])} {figure['workload']}: {note}"
                    for figure in bench.get("figures", []) for note in figure.get("notes", [])}
                   | set((external or {}).get("notes", [])))
    parts += [f"note: {note}" for note in notes]
    errors = [f"{name_of(e['target'])} {e['workload']}: {e['message']}" for e in bench.get("errors", [])]
    errors += [f"{e['target']} {e['workload']}: {e['message']}" for e in (external or {}).get("errors", [])]
    parts += [f"failed: {error}" for error in errors]
    if notes or errors:
        parts.append("")
    parts += ["The open issues' targets (16: metadata at local speed; 17: the data path):", "", targets_table(figures, peaks, client_cache_mib)]
    return "\n".join(parts) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="pohmelfs bench --json output")
    parser.add_argument("--names", required=True, help="comma-separated names of the bench's targets, in order")
    parser.add_argument("--external", help="bench_external.py output")
    parser.add_argument("--rss", help="RSS samples, lines 'NAME KIB'")
    parser.add_argument("--client-cache-mib", type=int, default=0,
                        help="the client's own cache bound (its data cache is the kernel's page cache: 0)")
    arguments = parser.parse_args(argv)
    with open(arguments.bench) as file:
        bench = json.load(file)
    external = None
    if arguments.external:
        with open(arguments.external) as file:
            external = json.load(file)
    rss_lines = []
    if arguments.rss:
        with open(arguments.rss) as file:
            rss_lines = file.read().splitlines()
    sys.stdout.write(render(bench, arguments.names.split(","), external, rss_lines, arguments.client_cache_mib))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The bench's workloads that are other programs: `tar -xf`, `cp -r`, find, du, git, `rm -rf` and dbench.

`make bench` runs `pohmelfs bench` for everything it can time itself (copies, random reads,
metadata), then this for the workloads the performance issue defines by a tool:

  tar-x    elapsed s   `tar -xf TARBALL` into the target, then `sync -f` on it (the data must
                       have reached the filesystem's server or disk, not only a write-back cache)
  cp-out   elapsed s   after dropping caches (root): `cp -r` of that tree to a local scratch
                       directory; the copy is then checked (file count and bytes) untimed
  dbench   throughput MB/s   `dbench -c LOADFILE -D target -t SECONDS CLIENTS` (Debian's dbench
                       and its client.txt loadfile), when dbench is installed
  find-cold elapsed s  after dropping caches (root): `find TREE -printf '%s'`, a stat of every entry
  find-warm elapsed s  the same again at once (what the kernel kept answers it): timed right after
                       the same target's find-cold, before the next target's drops the caches
  du-warm  elapsed s   `du -s TREE` right after that
  git-clone elapsed s  `git clone` of a local repository (--repo, a bare repository) into the target
  git-status elapsed s `git status` in that clone, twice; the second is timed
  rm-rf    elapsed s   `rm -rf` of the extracted tree (and the clone), then `sync -f`

Targets are interleaved within each run (tar-x on A B C, cp-out on A B C, ...) like `pohmelfs
bench`. Prints JSON on standard output, progress on standard error:

  {"figures": [{"workload", "metric", "unit", "better", "target" (a name), "samples", "median"}],
   "errors": [{"target", "workload", "message"}], "notes": [...]}

Usage: bench_external.py --target NAME=DIR ... --tarball FILE --scratch DIR
                         [--runs N] [--dbench-seconds S] [--dbench-clients N] [--repo BARE_REPO]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

DBENCH_LOADFILE = "/usr/share/dbench/client.txt"
TREE = "bench-tree"


def say(message):
    print(f"bench-external: {message}", file=sys.stderr, flush=True)


def drop_caches():
    """Drops the page, dentry and inode caches (FUSE mounts' included); False when not root."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as control:
            control.write("3\n")
        return True
    except OSError:
        return False


def tarball_contents(path):
    """(regular files, bytes) that extracting the tarball makes."""
    files = size = 0
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isreg():
                files += 1
                size += member.size
    return files, size


def tree_contents(root):
    """(regular files, bytes) under root, symbolic links not followed."""
    files = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files += 1
                size += os.lstat(path).st_size
    return files, size


def run(command, timeout):
    """Runs a command; raises RuntimeError with its first error line (and how many there were)
    when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["no message"]
        more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
        raise RuntimeError(f"{command[0]} exited with {result.returncode}: {lines[0]}{more}")
    return result.stdout


def symlink_utime_only(stderr, links):
    """How many times tar could not set the time or owner of a symbolic link, when those are its
    only errors (sftp has no lutimes or lchown: sshfs follows the link), else None. `links`: the
    tarball's symbolic links."""
    count = 0
    for line in stderr.strip().splitlines():
        if line.startswith("tar: Exiting with failure status"):
            continue
        match = re.match(r"tar: (.*): Cannot (utime|change ownership to .*): ", line)
        if not match or os.path.normpath(match.group(1)) not in links:
            return None
        count += 1
    return count or None


def tarball_symlinks(path):
    """The normalized member names of the tarball's symbolic links."""
    with tarfile.open(path) as archive:
        return {os.path.normpath(member.name) for member in archive if member.issym()}


def tar_x(directory, tarball, timeout, notes, links):
    tree = os.path.join(directory, TREE)
    shutil.rmtree(tree, ignore_errors=True)
    os.mkdir(tree)
    os.sync()
    started = time.monotonic()
    result = subprocess.run(["tar", "-xf", tarball, "-C", tree], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    run(["sync", "-f", tree], timeout)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        refused = symlink_utime_only(result.stderr, links)
        if refused is None:
            lines = result.stderr.strip().splitlines() or ["no message"]
            raise RuntimeError(f"tar exited with {result.returncode}: " + " | ".join(lines[:3])
                               + (f" (and {len(lines) - 3} more lines)" if len(lines) > 3 else ""))
        notes.add(f"{refused} times or owners of symbolic links not restored (refused: no lutimes, lchown)")
    return elapsed


def unreadable_symlinks_only(stderr, tree, links):
    """How many of the tarball's symbolic links cp could not read, when those are its only
    errors (sshfs answers readlink with EPERM for links tar made with `..` in them), else None."""
    count = 0
    for line in stderr.strip().splitlines():
        match = re.match(r"cp: cannot read symbolic link '(.*)': ", line)
        if not match or os.path.normpath(os.path.relpath(match.group(1), tree)) not in links:
            return None
        count += 1
    return count or None


def cp_out(directory, scratch, expected, timeout, notes, links):
    tree = os.path.join(directory, TREE)
    destination = os.path.join(scratch, "cp-out")
    shutil.rmtree(destination, ignore_errors=True)
    drop_caches()
    started = time.monotonic()
    result = subprocess.run(["cp", "-r", tree, destination], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        refused = unreadable_symlinks_only(result.stderr, tree, links)
        if refused is None:
            shutil.rmtree(destination, ignore_errors=True)
            lines = result.stderr.strip().splitlines() or ["no message"]
            raise RuntimeError(f"cp exited with {result.returncode}: " + " | ".join(lines[:3])
                               + (f" (and {len(lines) - 3} more lines)" if len(lines) > 3 else ""))
        notes.add(f"{refused} symbolic links could not be read back (readlink refused)")
    found = tree_contents(destination)
    shutil.rmtree(destination, ignore_errors=True)
    if found != expected:
        raise RuntimeError(f"cp -r copied {found[0]} files, {found[1]} bytes; the tarball has {expected[0]}, {expected[1]}")
    return elapsed


def find_tree(directory, timeout, cold):
    tree = os.path.join(directory, TREE)
    if cold:
        drop_caches()
    started = time.monotonic()
    run(["find", tree, "-printf", "%s\n"], timeout)
    return time.monotonic() - started


def du_tree(directory, timeout):
    tree = os.path.join(directory, TREE)
    started = time.monotonic()
    run(["du", "-s", tree], timeout)
    return time.monotonic() - started


CLONE = "bench-clone"


def git_clone(directory, repository, timeout):
    clone = os.path.join(directory, CLONE)
    shutil.rmtree(clone, ignore_errors=True)
    started = time.monotonic()
    run(["git", "clone", "-q", "--no-hardlinks", repository, clone], timeout)
    run(["sync", "-f", clone], timeout)
    return time.monotonic() - started


def git_status(directory, timeout):
    clone = os.path.join(directory, CLONE)
    run(["git", "-C", clone, "status", "--porcelain"], timeout)
    started = time.monotonic()
    output = run(["git", "-C", clone, "status", "--porcelain"], timeout)
    elapsed = time.monotonic() - started
    if output.strip():
        raise RuntimeError(f"git status in a fresh clone is not clean: {output.splitlines()[0]}")
    return elapsed


def rm_rf(directory, timeout):
    tree = os.path.join(directory, TREE)
    started = time.monotonic()
    run(["rm", "-rf", tree, os.path.join(directory, CLONE)], timeout)
    run(["sync", "-f", directory], timeout)
    elapsed = time.monotonic() - started
    if os.path.exists(tree):
        raise RuntimeError("rm -rf left the tree behind")
    return elapsed


def dbench(directory, seconds, clients, timeout):
    work = os.path.join(directory, "bench-dbench")
    shutil.rmtree(work, ignore_errors=True)
    os.mkdir(work)
    try:
        output = run(["dbench", "-c", DBENCH_LOADFILE, "-D", work, "-t", str(seconds), str(clients)], timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    match = re.search(r"^Throughput ([0-9.]+) MB/sec", output, re.MULTILINE)
    if not match:
        raise RuntimeError("dbench printed no Throughput line")
    if float(match.group(1)) <= 0:
        raise RuntimeError(f"dbench measured nothing in {seconds} s (its warm-up took it all)")
    return float(match.group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--tarball", required=True)
    parser.add_argument("--scratch", required=True, help="a local directory for cp -r's copies")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dbench-seconds", type=int, default=30, help="0 leaves dbench out")
    parser.add_argument("--dbench-clients", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds for one command")
    parser.add_argument("--repo", help="a local (bare) git repository for git-clone and git-status")
    arguments = parser.parse_args(argv)

    targets = []
    for text in arguments.target:
        name, equals, directory = text.partition("=")
        if not equals or not name or not os.path.isdir(directory):
            parser.error(f"--target {text!r}: want NAME=DIR with an existing DIR")
        targets.append((name, directory))

    expected = tarball_contents(arguments.tarball)
    links = tarball_symlinks(arguments.tarball)
    workloads = [("tar-x", "elapsed", "s", "lower"), ("cp-out", "elapsed", "s", "lower"),
                 ("find-cold", "elapsed", "s", "lower"), ("find-warm", "elapsed", "s", "lower"),
                 ("du-warm", "elapsed", "s", "lower")]
    notes = []
    if arguments.repo and shutil.which("git"):
        workloads += [("git-clone", "elapsed", "s", "lower"), ("git-status", "elapsed", "s", "lower")]
    elif arguments.repo:
        notes.append("git-clone and git-status left out: git is missing")
    workloads.append(("rm-rf", "elapsed", "s", "lower"))
    # Each of these needs the tree tar-x made in the same run (rm-rf removes it).
    needs_tree = {"cp-out", "find-cold", "find-warm", "du-warm", "rm-rf"}
    if arguments.dbench_seconds > 0 and shutil.which("dbench") and os.path.exists(DBENCH_LOADFILE):
        workloads.append(("dbench", "throughput", "MB/s", "higher"))
    elif arguments.dbench_seconds > 0:
        notes.append(f"dbench left out: dbench or {DBENCH_LOADFILE} is missing (apt-get install dbench)")
    if os.geteuid() != 0:
        notes.append("cp-out warm: caches not dropped (not root)")

    samples = {}
    # find-warm's and du-warm's figures, timed right after the same target's find-cold.
    warm = {}
    errors = []
    failed = set()
    for number in range(1, arguments.runs + 1):
        for workload, metric, unit, _ in workloads:
            for name, directory in targets:
                if (name, workload) in failed:
                    continue
                if workload in needs_tree and (name, "tar-x") in failed:
                    continue
                if workload == "git-status" and (name, "git-clone") in failed:
                    continue
                try:
                    if workload == "tar-x":
                        tar_notes = set()
                        value = tar_x(directory, arguments.tarball, arguments.timeout, tar_notes, links)
                        notes += sorted(f"{name} tar-x: {note}" for note in tar_notes if f"{name} tar-x: {note}" not in notes)
                    elif workload == "cp-out":
                        cp_notes = set()
                        value = cp_out(directory, arguments.scratch, expected, arguments.timeout, cp_notes, links)
                        notes += sorted(f"{name} cp-out: {note}" for note in cp_notes if f"{name} cp-out: {note}" not in notes)
                    elif workload == "find-cold":
                        value = find_tree(directory, arguments.timeout, cold=True)
                        # At once, before the next target's cold find drops this one's caches too.
                        warm[(name, "find-warm")] = find_tree(directory, arguments.timeout, cold=False)
                        warm[(name, "du-warm")] = du_tree(directory, arguments.timeout)
                    elif workload in ("find-warm", "du-warm"):
                        if (name, workload) not in warm:
                            raise RuntimeError(f"no {workload}: the cold find before it failed")
                        value = warm.pop((name, workload))
                    elif workload == "git-clone":
                        value = git_clone(directory, arguments.repo, arguments.timeout)
                    elif workload == "git-status":
                        value = git_status(directory, arguments.timeout)
                    elif workload == "rm-rf":
                        value = rm_rf(directory, arguments.timeout)
                    else:
                        value = dbench(directory, arguments.dbench_seconds, arguments.dbench_clients,
                                       arguments.timeout + arguments.dbench_seconds)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
                    failed.add((name, workload))
                    errors.append({"target": name, "workload": workload, "message": str(error)})
                    say(f"run {number}: {workload} on {name} failed: {error}")
                    continue
                samples.setdefault((workload, name), []).append(value)
                say(f"run {number}: {workload} on {name}: {value:.2f} {unit}")
    for name, directory in targets:
        shutil.rmtree(os.path.join(directory, TREE), ignore_errors=True)
        shutil.rmtree(os.path.join(directory, CLONE), ignore_errors=True)

    figures = []
    for workload, metric, unit, better in workloads:
        for name, _ in targets:
            values = samples.get((workload, name))
            if values:
                figures.append({
                    "workload": workload, "metric": metric, "unit": unit, "better": better, "target": name,
                    "samples": values, "median": statistics.median(values),
                })
    json.dump({"figures": figures, "errors": errors, "notes": notes}, sys.stdout, indent=1)
    print()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

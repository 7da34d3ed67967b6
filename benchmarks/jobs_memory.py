"""Peak memory of `auditor check -j N`, all processes together, side by side (Linux).

`/usr/bin/time -v` reports the largest single process, which hides what `-j N` costs: N
workers each holding trees. This script runs the same cold check (`--no-cache`) with each
`-j` value, interleaved over the repetitions, and samples the resident memory of the whole
process tree (the parent and every descendant, read from /proc) every few milliseconds.

    python benchmarks/jobs_memory.py PATH [--jobs 1 2 4] [--repeats 3] [--interval 0.01]

It prints, per `-j` value, the median peak of the summed resident set and its ratio to the
first value, plus the wall time (informative only: on a shared machine it is noise). The
findings must be identical for every `-j` value, or the script stops.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process we can read."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _resident(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_resident(root: int) -> int:
    """Bytes resident in `root` and all its descendants now."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _resident(pid)
        todo.extend(tree.get(pid, ()))
    return total


def measure(path: Path, jobs: int, interval: float) -> tuple[int, float, bytes]:
    """(peak bytes of the process tree, wall seconds, the JSON report) of one cold check."""
    command = [sys.executable, "-m", "auditor", "check", "--no-cache", "--exit-zero", "-j", str(jobs),
               "--output-format", "json", str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    peak = 0
    chunks = []
    os.set_blocking(process.stdout.fileno(), False)
    while process.poll() is None:
        peak = max(peak, tree_resident(process.pid))
        chunk = process.stdout.read()
        if chunk:
            chunks.append(chunk)
        time.sleep(interval)
    wall = time.perf_counter() - start
    rest = process.stdout.read()
    if rest:
        chunks.append(rest)
    if process.returncode not in (0, 1):
        raise SystemExit(f"jobs_memory: `{' '.join(command)}` exited {process.returncode}")
    return peak, wall, b"".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.01, help="sampling period, seconds")
    args = parser.parse_args()
    if not Path("/proc/self/statm").exists():
        raise SystemExit("jobs_memory: needs Linux /proc")
    peaks: dict[int, list[int]] = {j: [] for j in args.jobs}
    walls: dict[int, list[float]] = {j: [] for j in args.jobs}
    reference = None
    for repeat in range(args.repeats):
        order = args.jobs if repeat % 2 == 0 else list(reversed(args.jobs))
        for jobs in order:
            peak, wall, report = measure(args.path, jobs, args.interval)
            findings = _findings(report)
            if reference is None:
                reference = findings
            elif findings != reference:
                raise SystemExit(f"jobs_memory: -j {jobs} gave different findings")
            peaks[jobs].append(peak)
            walls[jobs].append(wall)
            print(f"rep {repeat + 1} -j {jobs}: peak {peak / 2**20:7.1f} MiB, wall {wall:6.2f} s", flush=True)
    base = statistics.median(peaks[args.jobs[0]])
    print(f"{args.path}: {len(reference or [])} findings, identical for every -j")
    for jobs in args.jobs:
        median = statistics.median(peaks[jobs])
        print(f"-j {jobs}: median peak of all processes {median / 2**20:7.1f} MiB "
              f"({median / base:.2f}x -j {args.jobs[0]}), median wall {statistics.median(walls[jobs]):.2f} s")


def _findings(report: bytes) -> list:
    import json

    data = json.loads(report or b"[]")
    items = data.get("findings", data) if isinstance(data, dict) else data
    return sorted(json.dumps(item, sort_keys=True) for item in items)


if __name__ == "__main__":
    main()

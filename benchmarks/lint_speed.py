"""Time `auditor check` side by side with a bare libcst parse and peer linters.

    python benchmarks/lint_speed.py DIR [--repeat 3] [--peers /work/peers-venv/bin]

Every tool runs on the same .py files of DIR, one after the other within each
repetition (interleaved, so a noisy machine slows them alike), as a subprocess;
the figures are medians over the repetitions: CPU seconds (user + system, the
child's processes included), wall seconds, files per second, the ratio to
`auditor check -j1 --no-cache`, and the peak resident memory of the largest process.
Peers (TorchFix, flake8 + TorchFix, Fixit, ruff) are used when found in --peers
(see benchmarks/README.md: a separate venv, never a dependency of this project).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from auditor.files import discover  # noqa: E402  (only to list the same files as the check)

PARSE_ONLY = """
import sys, libcst
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    data = open(path, "rb").read()
    try:
        libcst.parse_module(data)
    except Exception:
        pass
"""

# The floor under any check that parses every file with libcst: start-up, libcst's
# import and the parse, both as auditor does them (cached class code, cheaper node
# constructors without per-node validation, the collector paused), and nothing else.
PARSE_FLOOR = """
import gc, sys
gc.disable()
sys.path.insert(0, sys.argv[2])
from auditor.speed.libcst_import import import_libcst
import_libcst()
from auditor.speed.parsing import parse_module
for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
    data = open(path, "rb").read()
    try:
        parse_module(data.decode("utf-8"))
    except Exception:
        pass
"""


@dataclass
class Tool:
    name: str
    command: list[str]
    cwd: str = REPO
    before: object = None  # called before each run (e.g. to empty the cache)
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    failed: str = ""


def measure(tool: Tool, env: dict) -> None:
    if tool.before:
        tool.before()
    start = time.perf_counter()
    process = subprocess.Popen(tool.command, cwd=tool.cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0, 1) and not tool.failed:
        tool.failed = f"exit {process.returncode}: {stderr.strip().splitlines()[-1:] or ''}"
    tool.cpu.append(usage.ru_utime + usage.ru_stime)
    tool.wall.append(wall)
    tool.rss_mb.append(usage.ru_maxrss / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description="auditor check against a bare parse and peer linters")
    parser.add_argument("directory")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--peers", default=os.environ.get("PEERS_BIN", "/work/peers-venv/bin"),
                        help="bin directory of the venv holding torchfix, flake8, fixit, ruff")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="the 'default jobs' runs")
    args = parser.parse_args()

    files = [os.path.abspath(p) for p in discover([args.directory]) if p.endswith(".py")]
    if not files:
        print(f"no .py files under {args.directory}", file=sys.stderr)
        return 2
    lines = sum(_count_lines(p) for p in files)
    work = tempfile.mkdtemp(prefix="lint-speed-")
    listing = os.path.join(work, "files.txt")
    with open(listing, "w", encoding="utf-8") as out:
        out.write("\n".join(files))
    single = _median_file(files)
    env = dict(os.environ, PYTHONPATH=REPO, NO_COLOR="1")
    # Installed tools run from cached bytecode; without it every start-up recompiles.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = sys.executable
    auditor = [python, "-m", "auditor", "check", "--exit-zero", "-q"]
    cache_home = os.path.join(work, "project")  # the cache lives in the cwd's .auditor_cache
    os.makedirs(cache_home)

    def empty_cache() -> None:
        shutil.rmtree(os.path.join(cache_home, ".auditor_cache"), ignore_errors=True)

    tools = [
        Tool("auditor check -j1 --no-cache", auditor + ["-j1", "--no-cache", *files]),
        Tool(f"auditor check -j{args.jobs} --no-cache", auditor + [f"-j{args.jobs}", "--no-cache", *files]),
        Tool(f"auditor check -j{args.jobs} cold cache", auditor + [f"-j{args.jobs}", *files], cwd=cache_home,
             before=empty_cache),
        Tool(f"auditor check -j{args.jobs} warm cache", auditor + [f"-j{args.jobs}", *files], cwd=cache_home),
        Tool("auditor check -j1 warm cache", auditor + ["-j1", *files], cwd=cache_home),
        Tool("auditor check 1 file (pre-commit)", auditor + ["--no-cache", single]),
        Tool("libcst parse only", [python, "-c", PARSE_ONLY, listing]),
        Tool("auditor's parse only (floor)", [python, "-c", PARSE_FLOOR, listing, REPO]),
    ]
    peers = args.peers
    if os.path.exists(os.path.join(peers, "torchfix")):
        tools.append(Tool("TorchFix -j1", [os.path.join(peers, "torchfix"), "-j", "1", *files]))
    if os.path.exists(os.path.join(peers, "flake8")):
        tools.append(Tool("flake8 + TorchFix (TOR)", [os.path.join(peers, "flake8"), "--isolated",
                                                      "--select=TOR", "-j", "1", *files]))
    if os.path.exists(os.path.join(peers, "fixit")):
        tools.append(Tool("Fixit (built-in rules)", [os.path.join(peers, "fixit"), "lint", *files]))
    if os.path.exists(os.path.join(peers, "ruff")):
        tools.append(Tool("ruff (default rules)", [os.path.join(peers, "ruff"), "check", "--no-cache",
                                                   "--isolated", "--exit-zero", *files]))

    print(f"{len(files)} files, {lines} lines under {args.directory}; {args.repeat} repetitions, interleaved; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}", flush=True)
    finders = _editable_finders()
    if finders:
        print(f"note: this Python imports an editable install's finder at every start ({', '.join(finders)}), "
              f"about 12 ms per process that an installed auditor (and every peer) does not pay; "
              f"`pip install -e . --config-settings editable_mode=compat` installs without one", flush=True)
    for repetition in range(args.repeat):
        for tool in tools:
            measure(tool, env)
        print(f"  repetition {repetition + 1} done", file=sys.stderr, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    _print_table(tools, len(files))
    _print_goals(tools, len(files))
    return 0


def _editable_finders() -> list[str]:
    """The import finders that setuptools' editable installs add to every start of this Python.

    Such a finder (for this project or any other) is imported from a .pth file at start-up,
    with pathlib and what it imports: a cost of the development install, measured in every
    auditor run here but paid by no user of an installed auditor.
    """
    return sorted({getattr(finder, "__module__", "") for finder in sys.meta_path
                   if "editable" in getattr(finder, "__module__", "").lower()})


def _count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return handle.read().count(b"\n")


def _median_file(files: list[str]) -> str:
    """A typical file for the pre-commit case: the median-sized one that imports torch."""
    candidates = []
    for path in files:
        with open(path, "rb") as handle:
            data = handle.read()
        if b"torch" in data:
            candidates.append((len(data), path))
    candidates.sort()
    return (candidates[len(candidates) // 2][1] if candidates else files[0])


def _print_table(tools: list[Tool], count: int) -> None:
    base = statistics.median(tools[0].cpu)
    print()
    print(f"{'tool':40} {'CPU s':>8} {'wall s':>8} {'files/s':>9} {'CPU x auditor':>14} {'peak MB':>8}")
    for tool in tools:
        cpu, wall = statistics.median(tool.cpu), statistics.median(tool.wall)
        files = 1 if "1 file" in tool.name else count
        note = f"  ({tool.failed})" if tool.failed else ""
        print(f"{tool.name:40} {cpu:8.2f} {wall:8.2f} {files / max(cpu, 1e-9):9.1f} "
              f"{cpu / base:14.2f} {max(tool.rss_mb):8.0f}{note}")


def _print_goals(tools: list[Tool], count: int) -> None:
    by_name = {t.name.split(" (")[0] if t.name.startswith("auditor check 1") else t.name: t for t in tools}
    cpu = {name: statistics.median(t.cpu) for name, t in by_name.items()}
    wall = {name: statistics.median(t.wall) for name, t in by_name.items()}
    one = cpu["auditor check -j1 --no-cache"]
    print("\ngoals (measured above, side by side):")
    if "TorchFix -j1" in cpu:
        print(f"  files/s vs TorchFix, one process: {cpu['TorchFix -j1'] / one:.1f}x  (goal >= 20x)")
        torchfix, check = by_name["TorchFix -j1"].cpu, by_name["auditor check -j1 --no-cache"].cpu
        if len(torchfix) > 1 and len(torchfix) == len(check):
            # Each repetition ran both within the same minute or so: the spread shows how much
            # the machine's load moved the ratio during this run.
            ratios = sorted(t / max(c, 1e-9) for t, c in zip(torchfix, check))
            print(f"    per repetition: {ratios[0]:.1f}x to {ratios[-1]:.1f}x")
            # Load on a shared machine only ever adds time: each tool's fastest repetition
            # is the closest to its own cost (as `timeit` reports); the medians above stay
            # the figure of record.
            print(f"    fastest repetition of each: {min(torchfix) / max(min(check), 1e-9):.1f}x "
                  f"({min(check):.2f} s against {min(torchfix):.2f} s)")
        print(f"    TorchFix takes {cpu['TorchFix -j1'] / cpu['libcst parse only']:.1f}x a bare libcst parse "
              f"on this machine now (the check: {one / cpu['libcst parse only']:.2f}x)")
        budget, floor = cpu["TorchFix -j1"] / 20, cpu["auditor's parse only (floor)"]
        print(f"    20x TorchFix leaves {budget:.2f} CPU s; start-up and parse alone take {floor:.2f} s "
              f"({floor / budget:.0%} of it), the analysis {max(one - floor, 0):.2f} s")
    print(f"  CPU vs bare libcst parse: {one / cpu['libcst parse only']:.2f}x  (goal <= 2x)")
    cold = next(v for k, v in wall.items() if k.endswith("cold cache"))
    warm = next(v for k, v in wall.items() if k.endswith("warm cache"))
    print(f"  warm vs cold cache, wall: {cold / warm:.1f}x faster  (goal >= 20x)")
    print(f"  one file, wall incl. start-up: {wall['auditor check 1 file']:.2f} s  (goal <= 0.5 s)")


if __name__ == "__main__":
    sys.exit(main())

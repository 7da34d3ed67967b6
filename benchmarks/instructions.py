"""Count the instructions `auditor check` executes, beside a bare parse and TorchFix.

    python benchmarks/instructions.py DIR [--peers /work/peers-venv/bin]

A shared machine's timings move by a tenth from one run to the next, more than most
single changes to the check. Instruction counts do not: valgrind's cachegrind counts
every instruction a process executes, and the same command counts the same within a
few parts in ten thousand. So this script compares changes exactly, where
`lint_speed.py` (seconds, side by side) says what a user waits for. Instructions are
not seconds: code that waits on memory (libcst's parser allocating nodes) runs fewer
instructions per second than Python bytecode, so the ratio to TorchFix in instructions
is larger than in CPU seconds.

Each command runs once without valgrind first (so bytecode and auditor's class-code
cache are written, as for an installed tool), then once under it, roughly 25 times
slower than usual. TorchFix, when found in --peers, takes about 20 minutes on
pytorch/examples this way. Needs `valgrind` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from auditor.files import discover  # noqa: E402
from lint_speed import PARSE_FLOOR, PARSE_ONLY  # noqa: E402  (the same programs as the timings)

_REFS = re.compile(rb"I\s+refs:\s+([\d,]+)")


def count(command: list[str], env: dict, work: str) -> int:
    """Instructions executed by `command` (and nothing it spawns), counted by cachegrind."""
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = os.path.join(work, "cachegrind.out")
    result = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", f"--cachegrind-out-file={out}",
                             *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found = _REFS.search(result.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind for {command[:3]}: "
                           f"{result.stderr.decode(errors='replace')[-300:]}")
    return int(found.group(1).replace(b",", b""))


def main() -> int:
    parser = argparse.ArgumentParser(description="instructions of auditor check, a bare parse and TorchFix")
    parser.add_argument("directory")
    parser.add_argument("--peers", default="", help="bin directory of the venv holding torchfix (optional)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    files = [os.path.abspath(p) for p in discover([args.directory]) if p.endswith(".py")]
    if not files:
        print(f"no .py files under {args.directory}", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="instructions-")
    listing = os.path.join(work, "files.txt")
    with open(listing, "w", encoding="utf-8") as out:
        out.write("\n".join(files))
    # The same environment for every command; a fixed hash seed makes repeated counts agree.
    env = dict(os.environ, PYTHONPATH=REPO, NO_COLOR="1", PYTHONHASHSEED="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    python = sys.executable
    commands = [
        ("auditor check -j1 --no-cache",
         [python, "-m", "auditor", "check", "--exit-zero", "-q", "-j1", "--no-cache", *files]),
        ("libcst parse only", [python, "-c", PARSE_ONLY, listing]),
        ("auditor's parse only (floor)", [python, "-c", PARSE_FLOOR, listing, REPO]),
    ]
    torchfix = os.path.join(args.peers, "torchfix") if args.peers else ""
    if torchfix and os.path.exists(torchfix):
        commands.append(("TorchFix -j1", [torchfix, "-j", "1", *files]))
    print(f"{len(files)} files under {args.directory}; instructions counted by cachegrind", flush=True)
    counts = {}
    try:
        for name, command in commands:
            counts[name] = count(command, env, work)
            print(f"  {name} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    auditor = counts["auditor check -j1 --no-cache"]
    print(f"\n{'command':40s} {'instructions':>16s} {'x auditor':>10s}")
    for name, value in counts.items():
        print(f"{name:40s} {value:16,d} {value / auditor:10.2f}")
    floor = counts["auditor's parse only (floor)"]
    print(f"\nthe analysis (check minus floor): {auditor - floor:,d} instructions, "
          f"{(auditor - floor) / auditor:.0%} of the check")
    if "TorchFix -j1" in counts:
        print(f"TorchFix executes {counts['TorchFix -j1'] / auditor:.1f}x the instructions of the check "
              f"(the goal, 20x files per CPU second, is measured by lint_speed.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

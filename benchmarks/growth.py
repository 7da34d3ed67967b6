"""Does the cost per file stay flat as a repository grows? 100, 1,000 and 10,000 files.

    python benchmarks/growth.py SOURCE_DIR [--sizes 100,1000,10000] [--jobs 1]

Builds each repository in a temporary directory from copies of the .py files under
SOURCE_DIR (real training code: e.g. a checkout of pytorch/examples), under renamed
paths (`pkg_17/mod_0421.py`) with their top-level functions and classes renamed, so
no two files are identical; then times `auditor check --no-cache` on it as a
subprocess and prints CPU and wall milliseconds per file. Linear growth means the
ms per file stays about the same from row to row.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES_PER_PACKAGE = 50
_DEFINITION = re.compile(r"^(def|class)[ \t]+([A-Za-z_]\w*)", re.MULTILINE)


def sources(directory: str) -> list[str]:
    texts = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.endswith(".py"):
                with open(os.path.join(root, name), "rb") as handle:
                    data = handle.read()
                try:
                    texts.append(data.decode("utf-8"))
                except UnicodeDecodeError:
                    continue
    return [t for t in texts if t.strip()]


def build(target: str, texts: list[str], count: int) -> None:
    for index in range(count):
        text = texts[index % len(texts)]
        suffix = f"_{index:05d}"
        renamed = _DEFINITION.sub(lambda m: f"{m.group(1)} {m.group(2)}{suffix}", text)
        package = os.path.join(target, f"pkg_{index // FILES_PER_PACKAGE:03d}")
        os.makedirs(package, exist_ok=True)
        with open(os.path.join(package, f"mod{suffix}.py"), "w", encoding="utf-8") as out:
            out.write(f"# copy {index} of a real training file\n{renamed}")


def measure(target: str, jobs: int) -> tuple[float, float, int]:
    env = dict(os.environ, PYTHONPATH=REPO)
    # Installed tools run from cached bytecode; without it every start-up recompiles.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "auditor", "check", "--no-cache", "--exit-zero", "-q", f"-j{jobs}", target]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - start, usage.ru_maxrss // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    texts = sources(args.source)
    if not texts:
        print(f"no .py files under {args.source}", file=sys.stderr)
        return 2
    print(f"{len(texts)} distinct source files from {args.source}; auditor check -j{args.jobs} --no-cache")
    print(f"{'files':>7} {'lines':>9} {'CPU s':>8} {'wall s':>8} {'CPU ms/file':>12} {'wall ms/file':>13} {'peak MB':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        target = tempfile.mkdtemp(prefix=f"growth-{size}-")
        try:
            build(target, texts, size)
            lines = sum(texts[i % len(texts)].count("\n") + 1 for i in range(size))
            cpu, wall, peak = measure(target, args.jobs)
            print(f"{size:7d} {lines:9d} {cpu:8.1f} {wall:8.1f} {1000 * cpu / size:12.1f} "
                  f"{1000 * wall / size:13.1f} {peak:8d}", flush=True)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

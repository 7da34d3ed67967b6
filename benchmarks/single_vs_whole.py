"""Pre-commit names only the changed files: is a file's report the same as in the whole run?

For each repository given, runs `auditor check` once on the whole tree, then once per file
(named alone, from the repository root, as pre-commit does) and compares each file's findings
(code, line, column, severity). Files with findings in the whole run are all checked; up to
`--quiet-files` files without any are checked too (a finding that only a lone run gives).

    python benchmarks/single_vs_whole.py /work/clones/PyTorch-GAN /work/clones/examples
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys


def _findings(auditor: list[str], repo: str, targets: list[str]) -> dict[str, set]:
    proc = subprocess.run([*auditor, "check", "--output-format", "json", "--no-cache", "--exit-zero", *targets],
                          cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: auditor failed on {repo}: {proc.stderr.strip().splitlines()[-1:]}")
    found: dict[str, set] = {}
    for f in json.loads(proc.stdout)["findings"]:
        found.setdefault(f["path"], set()).add((f["code"], f["line"], f["column"], f["severity"]))
    return found


def _python_files(repo: str) -> list[str]:
    # -z: names as they are (course notebooks are named "Part 3 - Training (Exercises).ipynb").
    listed = subprocess.run(["git", "ls-files", "-z", "*.py", "*.ipynb"], cwd=repo, capture_output=True, text=True)
    return sorted(name for name in listed.stdout.split("\0") if name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="+")
    parser.add_argument("--auditor", default=f"{sys.executable} -m auditor")
    parser.add_argument("--quiet-files", type=int, default=10, help="files without findings to check alone")
    args = parser.parse_args()
    auditor = shlex.split(args.auditor)
    differing_total = checked_total = 0
    for repo in args.repos:
        whole = _findings(auditor, repo, ["."])
        noisy = sorted(whole)
        quiet = [p for p in _python_files(repo) if p not in whole]
        random.Random(0).shuffle(quiet)
        differing = 0
        for path in noisy + quiet[: args.quiet_files]:
            alone = _findings(auditor, repo, [path]).get(path, set())
            expected = whole.get(path, set())
            if alone != expected:
                differing += 1
                print(f"  {os.path.basename(repo)}/{path}: alone only {sorted(alone - expected)}, "
                      f"whole only {sorted(expected - alone)}")
        checked = len(noisy) + min(len(quiet), args.quiet_files)
        print(f"{repo}: {checked} files checked alone ({len(noisy)} with findings), {differing} differ")
        differing_total += differing
        checked_total += checked
    print(f"total: {checked_total} files, {differing_total} differ")
    return 1 if differing_total else 0


if __name__ == "__main__":
    sys.exit(main())

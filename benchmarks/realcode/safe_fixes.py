#!/usr/bin/env python3
"""Apply every safe fix to the real-code benchmark's trees and check the result (issue 17).

For each (repository, commit) of the manifest, the tree is written out from a local git copy
(as score.py does), copied, and `auditor check --fix --select ALL --no-cache --exit-zero .`
runs in the copy (safe fixes only; never --unsafe-fixes). Then:
  - every changed .py file must still compile;
  - every changed notebook must still be JSON, and each changed code cell must compile (IPython
    magics blanked as the checker itself does, auditor/cells.py);
  - per rule: fixes applied, files changed, changed files that no longer compile (must be 0);
  - with --diffs DIR, the unified diff of each changed file is written there for review
    (notebooks: a diff of the changed cells' sources).

Fixes per rule: the changed files are checked (as the fixer sees them, one file at a time)
before and after; a rule's count is its safe-fixable findings that went away.

    python benchmarks/realcode/safe_fixes.py --clones /work/.mirror [--auditor CMD]
        [--repo owner/name] [--diffs DIR] [--json]
"""

from __future__ import annotations

import argparse
import difflib
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))  # the repository root, for auditor.cells
from manifest import ManifestError, load_manifest  # noqa: E402
from trees import find_git_dir, materialise  # noqa: E402

from auditor.cells import sanitize_cell  # noqa: E402

RUN_TIMEOUT_S = 3600
FIXABLE = (".py", ".ipynb")


class SafeFixError(Exception):
    """Bad input or a tool that cannot run: one line, exit 2."""


# --- compiling what the fixes wrote --------------------------------------------------------

def py_compiles(data: bytes, path: str) -> Optional[str]:
    """None when `data` compiles as a module, else why not (one line)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like are the repo's own
        try:
            compile(data, path, "exec")
        except (SyntaxError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
    return None


def cell_sources(data: bytes) -> Optional[list]:
    """The code cells' sources of a notebook, or None when it is not a notebook's JSON."""
    try:
        notebook = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        return None
    sources = []
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            sources.append(None)
            continue
        source = cell.get("source", "")
        sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


def notebook_problems(before: bytes, after: bytes, path: str) -> list:
    """Why the fixed notebook is broken: not JSON, or a changed code cell that does not compile
    although it did before. Empty when it is fine."""
    old, new = cell_sources(before), cell_sources(after)
    if new is None:
        return ["not a valid notebook's JSON any more"]
    if old is None or len(old) != len(new):
        return ["the notebook's cells changed in number"]
    problems = []
    for number, (a, b) in enumerate(zip(old, new), start=1):
        if a == b or b is None:
            continue
        why = py_compiles("\n".join(sanitize_cell(b)).encode(), f"{path}#cell{number}")
        if why and a is not None and py_compiles("\n".join(sanitize_cell(a)).encode(), path) is None:
            problems.append(f"cell {number}: {why}")
    return problems


def file_problems(before: bytes, after: bytes, path: str) -> list:
    """Why the fixed file is broken; a file that did not compile before is not blamed."""
    if path.endswith(".ipynb"):
        return notebook_problems(before, after, path)
    why = py_compiles(after, path)
    if why and py_compiles(before, path) is None:
        return [why]
    return []


# --- diffs ----------------------------------------------------------------------------------

def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def file_diff(before: bytes, after: bytes, path: str) -> str:
    if path.endswith(".ipynb"):
        old, new = cell_sources(before) or [], cell_sources(after) or []
        chunks = []
        for number, (a, b) in enumerate(zip(old, new), start=1):
            if a != b:
                chunks.extend(difflib.unified_diff((a or "").splitlines(True), (b or "").splitlines(True),
                                                   f"a/{path}#cell{number}", f"b/{path}#cell{number}"))
        return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)
    lines = difflib.unified_diff(_text(before).splitlines(True), _text(after).splitlines(True),
                                 f"a/{path}", f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


# --- running the auditor ----------------------------------------------------------------------

def run_auditor(cmd: list, cwd: Path, args: list) -> dict:
    proc = subprocess.run([*cmd, "check", "--select", "ALL", "--no-cache", "--exit-zero",
                           "--output-format", "json", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    # With --exit-zero, 1 still means a file it could not read (an unknown coding declaration...):
    # the report covers the rest, which is what is fixed and checked here.
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"auditor exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"auditor exited {proc.returncode} with no JSON report: "
                           f"{proc.stderr.strip()[-300:]}") from None


def safe_fixable(report: dict) -> Counter:
    """(path, rule) -> findings that carry a safe fix with edits."""
    counts: Counter = Counter()
    for finding in report.get("findings", []):
        fix = finding.get("fix") or {}
        if fix.get("applicability") == "safe" and fix.get("edits"):
            counts[(finding["path"].replace("\\", "/").removeprefix("./"), finding["code"])] += 1
    return counts


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in root.rglob("*") if p.is_file() and p.suffix in FIXABLE and ".git" not in p.parts}


def fix_tree(cmd: list, git_dir: Path, commit: str) -> dict:
    """Fix a copy of the tree at `commit`; what changed, per rule, and what no longer compiles."""
    with tempfile.TemporaryDirectory(prefix="safefix-") as tmp:
        original = Path(tmp) / "original"
        original.mkdir()
        materialise(git_dir, commit, original)
        subprocess.run(["git", "init", "-q", str(original)], check=True, capture_output=True)
        work = Path(tmp) / "work"
        shutil.copytree(original, work, symlinks=True)
        before = snapshot(original)
        fixed_report = run_auditor(cmd, work, ["--fix", "."])
        after = snapshot(work)
        changed = sorted(p for p in before if after.get(p) != before[p])
        per_rule: Counter = Counter()
        rules_of: dict = defaultdict(list)
        if changed:
            # The fixer sees one file at a time; so do these two checks.
            old = safe_fixable(run_auditor(cmd, original, changed))
            new = safe_fixable(run_auditor(cmd, work, changed))
            for (path, rule), count in old.items():
                gone = count - new.get((path, rule), 0)
                if gone > 0:
                    per_rule[rule] += gone
                    rules_of[path].append(rule)
        files = []
        for path in changed:
            files.append({"path": path, "rules": sorted(rules_of.get(path, [])) or ["?"],
                          "problems": file_problems(before[path], after[path], path),
                          "diff": file_diff(before[path], after[path], path)})
    return {"fixed": fixed_report.get("summary", {}).get("fixed", 0), "per_rule": dict(per_rule), "files": files}


# --- the run ----------------------------------------------------------------------------------

def parse_args(argv: Optional[list]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", action="append", type=Path, default=[],
                        help="directory of local git copies (owner+name/ or owner+name/repo/); repeatable")
    parser.add_argument("--auditor", default="auditor", help="command that runs the auditor (default: `auditor`)")
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest")
    parser.add_argument("--repo", action="append", default=[], help="only this owner/name; repeatable")
    parser.add_argument("--diffs", type=Path, help="write each tree's unified diff into this directory")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args)
    except (ManifestError, SafeFixError) as exc:
        sys.stderr.write(f"safe_fixes.py: {exc}\n")
        return 2


def _diff_name(repo: str, commit: str) -> str:
    return f"{repo.replace('/', '+')}@{commit[:12]}.diff"


def _main(args: argparse.Namespace) -> int:
    if not args.clones:
        raise SafeFixError("--clones DIR is required (a directory of local git copies)")
    cmd = shlex.split(args.auditor)
    if not cmd or shutil.which(cmd[0]) is None:
        raise SafeFixError(f"cannot run the auditor command {args.auditor!r}")
    wanted = {r.lower() for r in args.repo}
    trees = sorted({(i.repo, i.commit) for i in load_manifest(args.manifest)
                    if not wanted or i.repo.lower() in wanted}, key=lambda t: (t[0].lower(), t[1]))
    if not trees:
        raise SafeFixError("no tree in that repository selection")
    if args.diffs:
        args.diffs.mkdir(parents=True, exist_ok=True)
    log = (lambda msg: sys.stderr.write(msg + "\n"))
    applied, files_changed, broken = Counter(), Counter(), Counter()
    runs, not_run = [], []
    for repo, commit in trees:
        git_dir, why = find_git_dir(repo, commit, args.clones)
        if git_dir is None:
            not_run.append({"repo": repo, "commit": commit, "why": why})
            log(f"not run: {repo} @ {commit[:12]}: {why}")
            continue
        log(f"fixing {repo} @ {commit[:12]} ...")
        try:
            result = fix_tree(cmd, git_dir, commit)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            not_run.append({"repo": repo, "commit": commit, "why": str(exc)})
            log(f"not run: {repo} @ {commit[:12]}: {exc}")
            continue
        applied.update(result["per_rule"])
        for entry in result["files"]:
            for rule in entry["rules"]:
                files_changed[rule] += 1
                if entry["problems"]:
                    broken[rule] += 1
                    log(f"DOES NOT COMPILE: {repo} @ {commit[:12]} {entry['path']}: {entry['problems'][0]}")
        if args.diffs and result["files"]:
            (args.diffs / _diff_name(repo, commit)).write_text(
                "".join(f"# rules: {', '.join(e['rules'])}\n{e['diff']}" for e in result["files"]), encoding="utf-8")
        runs.append({"repo": repo, "commit": commit, "fixed": result["fixed"], "per_rule": result["per_rule"],
                     "files": [{k: e[k] for k in ("path", "rules", "problems")} for e in result["files"]]})
    total_broken = sum(1 for run in runs for e in run["files"] if e["problems"])
    summary = {"trees": len(runs), "fixed": sum(r["fixed"] for r in runs),
               "files_changed": sum(len(r["files"]) for r in runs), "files_not_compiling": total_broken,
               "per_rule": {rule: {"applied": applied[rule], "files_changed": files_changed[rule],
                                   "files_not_compiling": broken[rule]}
                            for rule in sorted(set(applied) | set(files_changed))}}
    if args.json:
        print(json.dumps({"summary": summary, "runs": runs, "not_run": not_run}, indent=2))
    else:
        print(f"{'rule':8} {'applied':>8} {'files':>6} {'no-compile':>10}")
        for rule, row in summary["per_rule"].items():
            print(f"{rule:8} {row['applied']:8} {row['files_changed']:6} {row['files_not_compiling']:10}")
        print(f"trees {summary['trees']} (not run {len(not_run)}); fixes applied {summary['fixed']}; "
              f"files changed {summary['files_changed']}; files that no longer compile {total_broken}")
    return 1 if total_broken else 0


if __name__ == "__main__":
    sys.exit(main())

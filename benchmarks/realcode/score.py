#!/usr/bin/env python3
"""Score `auditor check` on hand-checked instances in public repositories (issue 16).

For each (repository, commit) of the manifest, the tree at that commit is written out from a
local git copy and `auditor check --no-cache --output-format json --exit-zero` runs on the
whole tree once (its JSON is cached by repository, commit and the tool's source). Then, per
rule: bugs found / bugs and non-bugs flagged / non-bugs, for the dev and held-out parts.

    python benchmarks/realcode/score.py --clones /work/.mirror [--part dev|heldout|all]
        [--auditor "CMD"] [--json] [--show misses|all] [--repo owner/name] [--stats]

See benchmarks/realcode/README.md for the manifest format, the matching rule and the
held-out part (scored only when a change is finished, never tuned against).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import posixpath
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from manifest import PARTS, Instance, ManifestError, load_manifest  # noqa: E402
from trees import file_line_count, find_git_dir, materialise  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "training-auditor-realcode"
CORE_PREFIXES = ("TRN1", "TRN2", "TRN3", "TRN4")
# Every static rule family: the benchmark measures each rule, whatever the default selection is.
SELECT = "TRN1,TRN2,TRN3,TRN4,TRN5,TRN6"
RUN_TIMEOUT_S = 3600


class ScoreError(Exception):
    """Bad input or a tool that cannot run: one line, exit 2."""


# --- the tool under test -------------------------------------------------------------------

def _interpreter_of(cmd: list) -> Optional[str]:
    """The Python that runs `cmd`: `PY -m auditor`, or a console script's shebang."""
    if len(cmd) >= 3 and cmd[1] == "-m":
        return cmd[0]
    exe = shutil.which(cmd[0])
    if not exe:
        return None
    try:
        with open(exe, "rb") as handle:
            first = handle.readline().decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = first[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
    return words[0] if words else None


def _source_hash(cmd: list) -> Optional[str]:
    """A hash of the tool's source (the `auditor` and `rules` packages it imports), or None."""
    python = _interpreter_of(cmd)
    if not python:
        return None
    probe = "import os, auditor, rules; print(os.path.dirname(auditor.__file__)); print(os.path.dirname(rules.__file__))"
    # From an empty directory: `python -c` puts the working directory first on sys.path, which
    # would find the checkout the script runs from instead of the command's own, or a stray
    # module that someone left in the shared temporary directory.
    with tempfile.TemporaryDirectory() as empty:
        proc = subprocess.run([python, "-c", probe], capture_output=True, text=True, cwd=empty)
    if proc.returncode != 0:
        return None
    digest = hashlib.sha1()
    for root in proc.stdout.split():
        for path in sorted(Path(root).rglob("*")):
            if path.suffix in (".py", ".c", ".json", ".toml") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def tool_identity(cmd: list) -> dict:
    try:
        proc = subprocess.run([*cmd, "--version"], capture_output=True, text=True)
    except OSError as exc:
        raise ScoreError(f"cannot run the auditor command {shlex.join(cmd)!r}: {exc.strerror}") from None
    if proc.returncode != 0:
        raise ScoreError(f"`{shlex.join(cmd)} --version` failed: {(proc.stderr or proc.stdout).strip()[:200]}")
    return {"command": shlex.join(cmd), "version": proc.stdout.strip(), "source_sha1": _source_hash(cmd)}


# --- running it once per (repository, commit) ----------------------------------------------

def _cache_path(cache_dir: Path, repo: str, commit: str, tool: dict) -> Optional[Path]:
    if not tool["source_sha1"]:
        return None  # the tool's source is unknown: a cached result could belong to other code
    return cache_dir / repo.replace("/", "+") / f"{commit}-{tool['source_sha1'][:16]}.json"


def check_tree(cmd: list, git_dir: Path, commit: str) -> dict:
    """The auditor's JSON report on the whole tree of `commit`, paths relative to its root."""
    with tempfile.TemporaryDirectory(prefix="realcode-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        missing = materialise(git_dir, commit, root)
        # A clone has a .git: the checker finds the project root as it would for a user.
        subprocess.run(["git", "init", "-q", str(root)], check=True, capture_output=True)
        args = [*cmd, "check", "--select", SELECT, "--no-cache", "--output-format", "json", "--exit-zero", "."]
        # `python -m auditor` puts the working directory first on sys.path, so a repository's
        # own `warnings.py` would shadow the standard library's; PYTHONSAFEPATH stops it (on
        # Python 3.11+ only), and an empty PYTHONPATH entry (the working directory too) is dropped.
        env = {**os.environ, "PYTHONSAFEPATH": "1"}
        if "PYTHONPATH" in env:
            env["PYTHONPATH"] = os.pathsep.join(p for p in env["PYTHONPATH"].split(os.pathsep) if p)
        proc = subprocess.run(args, cwd=root, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
    # Exit 1 with a report is normal even with --exit-zero: files that could not be read are
    # named on stderr and the rest is checked. Only a missing report (exit 2: usage or internal
    # error) makes the tree unscorable.
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    if proc.returncode not in (0, 1) or not isinstance(report, dict):
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"auditor exited {proc.returncode} without a report: {tail[0][:200]}")
    report["stderr_lines"] = proc.stderr.splitlines()[:50]
    report["files_absent_from_copy"] = missing
    return report


def report_for(cmd: list, tool: dict, cache_dir: Path, rerun: bool, repo: str, commit: str,
               git_dir: Path, log) -> dict:
    cached = _cache_path(cache_dir, repo, commit, tool)
    if cached and cached.is_file() and not rerun:
        return json.loads(cached.read_text(encoding="utf-8"))
    log(f"checking {repo} @ {commit[:12]} ...")
    report = check_tree(cmd, git_dir, commit)
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(report), encoding="utf-8")
        tmp.replace(cached)
    return report


# --- matching findings to instances ---------------------------------------------------------

def _norm(path: str) -> str:
    path = posixpath.normpath(path.replace(os.sep, "/"))
    return path[2:] if path.startswith("./") else path


SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


def index_findings(report: dict, min_severity: str = "info") -> dict:
    """(code, path) -> [(line, cell)] of the report's findings at `min_severity` or above."""
    index: dict = defaultdict(list)
    floor = SEVERITY_RANK[min_severity]
    for finding in report.get("findings", []):
        if SEVERITY_RANK.get(finding.get("severity"), 0) < floor:
            continue
        index[(finding["code"], _norm(finding["path"]))].append((finding["line"], finding.get("cell")))
    return index


def matches(instance: Instance, index: dict) -> list:
    """The findings of the instance's rule that lie in one of its spans (sorted lines)."""
    hits = []
    for span in instance.spans:
        for line, cell in index.get((instance.rule, span.path), ()):
            if span.holds(span.path, line, cell):
                hits.append(line)
    return sorted(set(hits))


# --- tallies and output ---------------------------------------------------------------------

def is_core(rule: str) -> bool:
    return rule.startswith(CORE_PREFIXES)


def _tally(outcomes: list) -> dict:
    bugs = [o for o in outcomes if o["label"] == "bug"]
    clean = [o for o in outcomes if o["label"] == "non-bug"]
    return {"bugs": len(bugs), "found": sum(o["hit"] for o in bugs),
            "non_bugs": len(clean), "flagged": sum(o["hit"] for o in clean)}


def summarise(outcomes: list) -> dict:
    by_rule = defaultdict(list)
    for outcome in outcomes:
        by_rule[outcome["rule"]].append(outcome)
    return {
        "by_rule": {rule: _tally(items) for rule, items in sorted(by_rule.items())},
        "core": _tally([o for o in outcomes if is_core(o["rule"])]),
        "total": _tally(outcomes),
        "repositories": len({o["repo"] for o in outcomes}),
    }


def _ratio(num: int, den: int) -> str:
    return f"{num}/{den} {num / den:.2f}" if den else "-"


def print_table(parts: dict, out) -> None:
    names = list(parts)
    rules = sorted({rule for summary in parts.values() for rule in summary["by_rule"]})
    header = ["rule"] + [f"{n}: {col}" for n in names for col in ("bugs found", "non-bugs flagged")]
    rows = []
    empty = {"bugs": 0, "found": 0, "non_bugs": 0, "flagged": 0}
    for label, pick in [(r, lambda s, r=r: s["by_rule"].get(r, empty)) for r in rules] + [
            ("core (TRN1-4)", lambda s: s["core"]), ("total", lambda s: s["total"])]:
        row = [label]
        for name in names:
            t = pick(parts[name])
            row += [_ratio(t["found"], t["bugs"]), _ratio(t["flagged"], t["non_bugs"])]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for row in [header] + rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")


def print_markdown(parts: dict, out) -> None:
    """The per-rule table as Markdown, for docs/real-world.md."""
    names = list(parts)
    rules = sorted({rule for summary in parts.values() for rule in summary["by_rule"]})
    out.write("| rule | " + " | ".join(f"{n}: bugs found | {n}: non-bugs flagged" for n in names) + " |\n")
    out.write("|---|" + "---:|---:|" * len(names) + "\n")
    empty = {"bugs": 0, "found": 0, "non_bugs": 0, "flagged": 0}
    rows = [(r, lambda s, r=r: s["by_rule"].get(r, empty)) for r in rules]
    rows += [("**core (TRN1-4)**", lambda s: s["core"]), ("**total**", lambda s: s["total"])]
    for label, pick in rows:
        cells = []
        for name in names:
            t = pick(parts[name])
            cells += [_ratio(t["found"], t["bugs"]), _ratio(t["flagged"], t["non_bugs"])]
        out.write(f"| {label} | " + " | ".join(cells) + " |\n")


def goals(summary: dict) -> str:
    """Issue 16's bar for the held-out part, as measured figures."""
    total = summary["total"]
    if not total["bugs"] + total["non_bugs"]:
        return "nothing scored"
    found = total["found"] / total["bugs"] if total["bugs"] else 0.0
    flagged = total["flagged"] / total["non_bugs"] if total["non_bugs"] else 0.0
    low = [f"{r} {t['found']}/{t['bugs']}" for r, t in summary["by_rule"].items()
           if is_core(r) and t["bugs"] and t["found"] / t["bugs"] < 0.6]
    return (f"bugs found {found:.2f} (goal >= 0.80), non-bugs flagged {flagged:.2f} (goal <= 0.10), "
            f"core rules below 0.6 found: {', '.join(low) if low else 'none'}")


def manifest_stats(instances: list) -> dict:
    stats: dict = {"repositories": len({i.repo.lower() for i in instances}), "instances": len(instances),
                   "bugs": 0, "core_bugs": 0, "non_bugs": 0, "by_rule": {}, "parts": {}}
    for inst in instances:
        stats["bugs" if inst.label == "bug" else "non_bugs"] += 1
        stats["core_bugs"] += inst.label == "bug" and is_core(inst.rule)
        rule = stats["by_rule"].setdefault(inst.rule, {"bugs": 0, "non_bugs": 0})
        rule["bugs" if inst.label == "bug" else "non_bugs"] += 1
        part = stats["parts"].setdefault(inst.part, {"repositories": set(), "instances": 0, "bugs": 0, "non_bugs": 0})
        part["repositories"].add(inst.repo.lower())
        part["instances"] += 1
        part["bugs" if inst.label == "bug" else "non_bugs"] += 1
    for part in stats["parts"].values():
        part["repositories"] = len(part["repositories"])
    stats["by_rule"] = dict(sorted(stats["by_rule"].items()))
    return stats


def print_stats(stats: dict, out) -> None:
    out.write(f"manifest: {stats['repositories']} repositories, {stats['instances']} instances: "
              f"{stats['bugs']} bugs ({stats['core_bugs']} of core rules TRN1-4), {stats['non_bugs']} non-bugs\n")
    for name in PARTS:
        p = stats["parts"].get(name)
        if p:
            out.write(f"  {name}: {p['repositories']} repositories, {p['instances']} instances "
                      f"({p['bugs']} bugs, {p['non_bugs']} non-bugs)\n")
    out.write("  by rule: " + ", ".join(f"{r} {c['bugs']}+{c['non_bugs']}" for r, c in stats["by_rule"].items())
              + "  (bugs+non-bugs)\n")


# --- main -----------------------------------------------------------------------------------

def parse_args(argv: Optional[list]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", action="append", type=Path, default=[],
                        help="directory of local git copies (owner+name/ or owner+name/repo/); repeatable")
    parser.add_argument("--part", choices=("dev", "heldout", "all"), default="dev")
    parser.add_argument("--auditor", default=f"{shlex.quote(sys.executable)} -m auditor",
                        help="command that runs the auditor (default: this Python's `-m auditor`)")
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"results cache (default {DEFAULT_CACHE})")
    parser.add_argument("--rerun", action="store_true", help="ignore cached results")
    parser.add_argument("--repo", action="append", default=[], help="score only this owner/name; repeatable")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--markdown", action="store_true", help="print the per-rule table as Markdown")
    parser.add_argument("--show", choices=("misses", "all"),
                        help="list dev-part instances (missed bugs and flagged non-bugs, or all)")
    parser.add_argument("--stats", action="store_true", help="print the manifest's counts and exit")
    # What a CI gate that fails on warnings sees; the headline figures count every severity.
    parser.add_argument("--min-severity", choices=tuple(SEVERITY_RANK), default="info",
                        help="count only findings of this severity or above (default info: all)")
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    try:
        return _main(args)
    except (ManifestError, ScoreError) as exc:
        sys.stderr.write(f"score.py: {exc}\n")
        return 2


def _main(args: argparse.Namespace) -> int:
    instances = load_manifest(args.manifest)
    stats = manifest_stats(instances)
    if args.stats:
        if args.json:
            print(json.dumps(stats, indent=2))
        else:
            print_stats(stats, sys.stdout)
        return 0
    if not args.clones:
        raise ScoreError("--clones DIR is required to score (a directory of local git copies)")
    wanted = {r.lower() for r in args.repo}
    parts = list(PARTS) if args.part == "all" else [args.part]
    chosen = [i for i in instances if i.part in parts and (not wanted or i.repo.lower() in wanted)]
    if not chosen:
        raise ScoreError("no instance in that part/repository selection")
    cmd = shlex.split(args.auditor)
    tool = tool_identity(cmd)
    log = (lambda msg: sys.stderr.write(msg + "\n"))
    if not tool["source_sha1"]:
        log("note: the auditor's source could not be located; results are not cached")

    groups: dict = defaultdict(list)
    for inst in chosen:
        groups[(inst.repo, inst.commit)].append(inst)
    outcomes, not_scored, invalid, runs = [], [], [], []
    for (repo, commit), group in sorted(groups.items(), key=lambda kv: (kv[0][0].lower(), kv[0][1])):
        git_dir, why = find_git_dir(repo, commit, args.clones)
        if git_dir is None:
            not_scored.append({"repo": repo, "commit": commit, "instances": len(group), "why": why})
            log(f"not scored: {repo} @ {commit[:12]}: {why} ({len(group)} instances)")
            continue
        bad = [i for i in group if _invalid(i, git_dir)]
        for inst in bad:
            invalid.append({"origin": inst.origin, "why": _invalid(inst, git_dir)})
            log(f"invalid instance {inst.origin}: {_invalid(inst, git_dir)}")
        try:
            report = report_for(cmd, tool, args.cache, args.rerun, repo, commit, git_dir, log)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            not_scored.append({"repo": repo, "commit": commit, "instances": len(group), "why": str(exc)})
            log(f"not scored: {repo} @ {commit[:12]}: {exc}")
            continue
        stderr_lines = report.get("stderr_lines")
        runs.append({"repo": repo, "commit": commit, "files": report.get("summary", {}).get("files"),
                     "findings": len(report.get("findings", [])),
                     "unreadable": [line for line in (stderr_lines if isinstance(stderr_lines, list) else [])
                                    if ": error:" in line]})
        index = index_findings(report, args.min_severity)
        for inst in group:
            if inst in bad:
                continue
            hit_lines = matches(inst, index)
            outcomes.append({"repo": inst.repo, "commit": inst.commit, "part": inst.part, "rule": inst.rule,
                             "label": inst.label, "path": inst.span.path, "line": inst.span.line,
                             "end_line": inst.span.end_line, "hit": bool(hit_lines), "hit_lines": hit_lines,
                             "reason": inst.reason, "origin": inst.origin})

    summaries = {name: summarise([o for o in outcomes if o["part"] == name]) for name in parts}
    if len(parts) > 1:
        summaries["all"] = summarise(outcomes)
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "tool": tool, "manifest": stats, "part": args.part, "min_severity": args.min_severity,
        "parts": summaries,
        "runs": runs, "not_scored": not_scored, "invalid": invalid,
        # Held-out instances are scored, never listed one by one: nobody tunes against them.
        "instances": [o for o in outcomes if o["part"] == "dev"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.markdown:
        print_markdown(result["parts"], sys.stdout)
    else:
        _print_text(result, args.show)
    return 0


def _invalid(inst: Instance, git_dir: Path) -> Optional[str]:
    for span in inst.spans:
        count = file_line_count(git_dir, inst.commit, span.path)
        if count is None:
            return f"{span.path} is not in the tree at {inst.commit[:12]}"
        if span.cell is None and span.end_line > count:
            return f"{span.path} has {count} lines, the span ends at {span.end_line}"
    return None


def _print_text(result: dict, show: Optional[str]) -> None:
    out = sys.stdout
    tool = result["tool"]
    out.write(f"real-code benchmark, {result['date']}; tool: {tool['version']} "
              f"(source sha1 {(tool['source_sha1'] or 'unknown')[:12]}), part: {result['part']}\n")
    print_stats(result["manifest"], out)
    scored = sum(s["total"]["bugs"] + s["total"]["non_bugs"] for n, s in result["parts"].items() if n != "all")
    out.write(f"scored: {scored} instances in {len(result['runs'])} (repository, commit) trees; "
              f"not scored: {sum(n['instances'] for n in result['not_scored'])} instances "
              f"({len(result['not_scored'])} trees), invalid: {len(result['invalid'])}\n\n")
    print_table(result["parts"], out)
    if "heldout" in result["parts"]:
        out.write("\nheld-out part, issue 16's bar: " + goals(result["parts"]["heldout"]) + "\n")
    if show:
        out.write("\ndev instances:\n")
        for o in result["instances"]:
            missed = (o["label"] == "bug") != o["hit"]
            if show == "all" or missed:
                verdict = {("bug", True): "found", ("bug", False): "MISSED",
                           ("non-bug", True): "FLAGGED", ("non-bug", False): "quiet"}[(o["label"], o["hit"])]
                out.write(f"  {verdict:7} {o['rule']} {o['repo']} {o['path']}:{o['line']}-{o['end_line']}"
                          f"  ({o['origin']}) {o['reason']}\n")


if __name__ == "__main__":
    sys.exit(main())

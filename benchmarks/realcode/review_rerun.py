"""Re-run `auditor check` on the repositories of the hand review (issue 17) and compare the
core findings with the recorded verdicts in `reviews/OWNER__NAME.jsonl`.

The review judged every core finding (TRN1xx-TRN4xx) of one tool version by hand: RIGHT (a real
bug), HARMLESS (true, no effect) or WRONG (a false positive). After the rules change, this script
tells per rule what the new code keeps, what it no longer reports, and which findings are new
and still need a verdict by hand. A finding matches a verdict when its path (relative to the
repository), notebook cell, line and code are the same; the repositories are checked at the
reviewed commit, so nothing else moves.

    python benchmarks/realcode/review_rerun.py --clones /work/clones
    python benchmarks/realcode/review_rerun.py --clones /work/clones --show new --repo owner/name
    python benchmarks/realcode/review_rerun.py --clones /work/clones --all-rules   # opt-in rules too

Clones: for `owner/name` the script looks in each `--clones DIR` for `DIR/name` and
`DIR/owner+name` (a work tree); its HEAD must be the reviewed commit, else the repository is
named on stderr as not checked.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
VERDICTS = ("RIGHT", "HARMLESS", "WRONG")
_FIELDS = ("repo", "commit", "path", "line", "code", "severity", "verdict", "reason")

# (path relative to the repository, notebook cell or None, line, rule code)
Key = Tuple[str, Optional[int], int, str]


class ReviewError(Exception):
    """A reviews line that cannot be used (the message names file and line)."""


@dataclass
class Verdict:
    key: Key
    severity: str
    verdict: str


@dataclass
class RepoReview:
    repo: str
    commit: str
    # one entry per reviewed finding; a place reported twice (two columns) has two
    verdicts: Dict[Key, List[Verdict]] = field(default_factory=dict)


@dataclass
class Tally:
    """What one rule does on the reviewed repositories now, against the verdicts."""

    kept: collections.Counter = field(default_factory=collections.Counter)  # verdict -> n
    gone: collections.Counter = field(default_factory=collections.Counter)  # verdict -> n
    new: collections.Counter = field(default_factory=collections.Counter)  # severity -> n
    now_by_severity: collections.Counter = field(default_factory=collections.Counter)  # (severity, verdict|NEW)


def is_core(code: str) -> bool:
    return len(code) == 6 and code.startswith("TRN") and code[3] in "1234"


def load_reviews(directory: Path) -> List[RepoReview]:
    """Every `*.jsonl` file of `directory`, one repository each."""
    reviews = []
    for path in sorted(directory.glob("*.jsonl")):
        review: Optional[RepoReview] = None
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not raw.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ReviewError(f"{where}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or any(name not in row for name in _FIELDS):
                raise ReviewError(f"{where}: needs the fields {', '.join(_FIELDS)}")
            if row["verdict"] not in VERDICTS:
                raise ReviewError(f"{where}: verdict must be one of {', '.join(VERDICTS)}")
            if review is None:
                review = RepoReview(row["repo"], row["commit"])
            elif (row["repo"], row["commit"]) != (review.repo, review.commit):
                raise ReviewError(f"{where}: one repository and commit per file")
            key = (row["path"], row.get("cell"), int(row["line"]), row["code"])
            review.verdicts.setdefault(key, []).append(Verdict(key, row["severity"], row["verdict"]))
        if review is not None:
            reviews.append(review)
    return reviews


def find_clone(repo: str, commit: str, clone_dirs: List[Path]) -> Optional[Path]:
    owner, name = repo.split("/", 1)
    for directory in clone_dirs:
        for candidate in (directory / name, directory / f"{owner}+{name}"):
            if not (candidate / ".git").exists():
                continue
            head = subprocess.run(["git", "-C", str(candidate), "rev-parse", "HEAD"],
                                  capture_output=True, text=True).stdout.strip()
            if head == commit:
                return candidate
    return None


def check(auditor: str, root: Path, select: Optional[str] = None, saved: Optional[Path] = None) -> List[dict]:
    """The core findings of `auditor check` on `root` (the default rule selection unless `select`).
    With `saved`, a report already there is read instead of running, and a fresh one is kept there."""
    if saved is not None and saved.exists():
        report = saved.read_text(encoding="utf-8")
    else:
        command = shlex.split(auditor) + ["check", str(root), "--no-cache", "--output-format", "json",
                                          "--exit-zero"]
        if select:
            command += ["--select", select]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"auditor failed on {root}: {done.stderr.strip()[:300]}")
        report = done.stdout
        if saved is not None:
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(report, encoding="utf-8")
    findings = json.loads(report)["findings"]
    return [f for f in findings if is_core(f["code"])]


def finding_key(finding: dict, root: Path) -> Key:
    path = os.path.relpath(finding["path"], root).replace(os.sep, "/")
    return (path, finding.get("cell"), int(finding["line"]), finding["code"])


def compare(review: RepoReview, findings: List[dict], root: Path,
            tallies: Dict[str, Tally], new_rows: List[str], gone_rows: List[str]) -> None:
    """Add one repository's comparison to the per-rule tallies (and list what is new or lost)."""
    left = {key: list(verdicts) for key, verdicts in review.verdicts.items()}
    for finding in findings:
        key = finding_key(finding, root)
        tally = tallies.setdefault(key[3], Tally())
        waiting = left.get(key)
        if not waiting:
            tally.new[finding["severity"]] += 1
            tally.now_by_severity[(finding["severity"], "NEW")] += 1
            new_rows.append(f"{review.repo}: {_where(key)} {key[3]} {finding['severity']}")
            continue
        verdict = waiting.pop(0)
        tally.kept[verdict.verdict] += 1
        tally.now_by_severity[(finding["severity"], verdict.verdict)] += 1
    for key, waiting in left.items():
        for verdict in waiting:
            tallies.setdefault(key[3], Tally()).gone[verdict.verdict] += 1
            if verdict.verdict == "RIGHT":
                gone_rows.append(f"{review.repo}: {_where(key)} {key[3]} (was RIGHT)")


def _where(key: Key) -> str:
    path, cell, line, _ = key
    return f"{path}:cell {cell}:{line}" if cell is not None else f"{path}:{line}"


def _by_severity(counter: collections.Counter) -> str:
    parts = [f"{counter[s]} {s}" for s in ("error", "warning", "info") if counter[s]]
    return f" ({', '.join(parts)})" if parts else ""


def render(tallies: Dict[str, Tally]) -> str:
    """Per rule: each verdict kept/was, with the severities it is reported at now; new findings."""
    lines = ["| rule | RIGHT kept/was | HARMLESS kept/was | WRONG kept/was | new, unjudged |",
             "| --- | --- | --- | --- | --- |"]
    for code in sorted(tallies):
        t = tallies[code]
        cells = []
        for verdict in VERDICTS:
            now = collections.Counter({s: n for (s, v), n in t.now_by_severity.items() if v == verdict})
            cells.append(f"{t.kept[verdict]}/{t.kept[verdict] + t.gone[verdict]}{_by_severity(now)}")
        cells.append(f"{sum(t.new.values())}{_by_severity(t.new)}")
        lines.append(f"| {code} | {' | '.join(cells)} |")
    now = collections.Counter()
    for t in tallies.values():
        now.update(t.now_by_severity)
    total = sum(now.values())
    errors = sum(n for (severity, _), n in now.items() if severity == "error")
    right_errors = now[("error", "RIGHT")]
    wrong = sum(n for (_, verdict), n in now.items() if verdict == "WRONG")
    unjudged = sum(n for (_, verdict), n in now.items() if verdict == "NEW")
    lines.append("")
    lines.append(f"core findings now: {total} ({unjudged} new, not yet judged)")
    if errors:
        lines.append(f"error-severity findings RIGHT: {right_errors}/{errors} = {right_errors / errors:.0%}"
                     f" ({now[('error', 'NEW')]} of them unjudged)")
    if total:
        lines.append(f"core findings judged WRONG: {wrong}/{total} = {wrong / total:.0%}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clones", action="append", type=Path, default=[],
                        help="directory holding work trees of the reviewed repositories (repeatable)")
    parser.add_argument("--reviews", type=Path, default=HERE / "reviews")
    parser.add_argument("--auditor", default=f"{shlex.quote(sys.executable)} -m auditor",
                        help="the command to test (default: this Python's -m auditor)")
    parser.add_argument("--repo", action="append", default=[], help="only this owner/name; repeatable")
    parser.add_argument("--show", choices=("new", "gone", "both"), help="list new findings / lost RIGHT ones")
    parser.add_argument("--runs", type=Path,
                        help="keep each repository's report here and reuse it on the next call "
                             "(delete the directory when the code changes)")
    parser.add_argument("--all-rules", action="store_true",
                        help="select every core rule (TRN1-TRN4) instead of the default selection")
    args = parser.parse_args(argv)
    try:
        reviews = load_reviews(args.reviews)
    except (OSError, ReviewError) as exc:
        print(f"review_rerun: {exc}", file=sys.stderr)
        return 2
    clone_dirs = args.clones or [Path("/work/clones")]
    tallies: Dict[str, Tally] = {}
    new_rows: List[str] = []
    gone_rows: List[str] = []
    for review in reviews:
        if args.repo and review.repo not in args.repo:
            continue
        root = find_clone(review.repo, review.commit, clone_dirs)
        if root is None:
            print(f"not checked: {review.repo} (no work tree at {review.commit[:12]})", file=sys.stderr)
            continue
        try:
            saved = args.runs / (review.repo.replace("/", "__") + ".json") if args.runs else None
            findings = check(args.auditor, root, "TRN1,TRN2,TRN3,TRN4" if args.all_rules else None, saved)
        except (RuntimeError, json.JSONDecodeError, KeyError) as exc:
            print(f"not checked: {review.repo}: {exc}", file=sys.stderr)
            continue
        compare(review, findings, root, tallies, new_rows, gone_rows)
    print(render(tallies))
    if args.show in ("new", "both"):
        print("\nnew findings (need a verdict):\n" + "\n".join(new_rows or ["(none)"]))
    if args.show in ("gone", "both"):
        print("\nRIGHT findings no longer reported:\n" + "\n".join(gone_rows or ["(none)"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""benchmarks/realcode/review_rerun.py: the hand review's verdicts against a fresh run of the
real command on a small git repository (kept, gone and new findings; bad input)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location("review_rerun", ROOT / "benchmarks" / "realcode" / "review_rerun.py")
review_rerun = importlib.util.module_from_spec(_spec)
sys.modules["review_rerun"] = review_rerun  # dataclasses look their module up there
_spec.loader.exec_module(review_rerun)

TRAIN = """\
import torch.nn as nn
import torch.nn.functional as F

criterion = nn.CrossEntropyLoss()


def step(model, x, y):
    probs = F.softmax(model(x), dim=1)
    return criterion(probs, y)


def other_step(model, x, y):
    probs = F.softmax(model(x), dim=1)
    return criterion(probs, y)
"""


def _repo(tmp_path: Path) -> tuple[Path, str]:
    clone = tmp_path / "clones" / "toy"
    clone.mkdir(parents=True)
    (clone / "train.py").write_text(TRAIN)
    git = ["git", "-C", str(clone), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "train.py"], check=True)
    subprocess.run(git + ["commit", "-qm", "toy"], check=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return clone, commit


def _reviews(tmp_path: Path, commit: str, rows: list[dict]) -> Path:
    directory = tmp_path / "reviews"
    directory.mkdir()
    base = {"repo": "someone/toy", "commit": commit, "severity": "error", "reason": "r"}
    with open(directory / "someone__toy.jsonl", "w") as fh:
        for row in rows:
            fh.write(json.dumps({**base, **row}) + "\n")
    return directory


def test_kept_gone_and_new_findings(tmp_path, capsys):
    clone, commit = _repo(tmp_path)
    reviews = _reviews(tmp_path, commit, [
        # reported again: kept
        {"path": "train.py", "line": 9, "code": "TRN301", "verdict": "RIGHT"},
        # a verdict on a finding the tool no longer reports: gone
        {"path": "train.py", "line": 8, "code": "TRN101", "verdict": "WRONG"},
    ])
    code = review_rerun.main(["--clones", str(clone.parent), "--reviews", str(reviews), "--show", "both"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| TRN301 | 1/1 (1 error) | 0/0 | 0/0 | 1 (1 error) |" in out  # line 14 was never judged: new
    assert "| TRN101 | 0/0 | 0/0 | 0/1 | 0 |" in out
    assert "someone/toy: train.py:14 TRN301 error" in out
    assert "error-severity findings RIGHT: 1/2 = 50% (1 of them unjudged)" in out
    assert "RIGHT findings no longer reported:\n(none)" in out


def test_lost_right_finding_is_listed(tmp_path, capsys):
    clone, commit = _repo(tmp_path)
    reviews = _reviews(tmp_path, commit, [
        {"path": "train.py", "line": 3, "code": "TRN301", "verdict": "RIGHT"},
    ])
    review_rerun.main(["--clones", str(clone.parent), "--reviews", str(reviews), "--show", "gone"])
    out = capsys.readouterr().out
    assert "someone/toy: train.py:3 TRN301 (was RIGHT)" in out
    assert "| TRN301 | 0/1 | 0/0 | 0/0 | 2 (2 error) |" in out


def test_clone_at_another_commit_is_not_checked(tmp_path, capsys):
    clone, _ = _repo(tmp_path)
    reviews = _reviews(tmp_path, "0" * 40, [
        {"path": "train.py", "line": 9, "code": "TRN301", "verdict": "RIGHT"},
    ])
    assert review_rerun.main(["--clones", str(clone.parent), "--reviews", str(reviews)]) == 0
    captured = capsys.readouterr()
    assert "not checked: someone/toy" in captured.err
    assert "TRN301" not in captured.out


def test_bad_review_line_is_one_message(tmp_path, capsys):
    directory = tmp_path / "reviews"
    directory.mkdir()
    (directory / "a__b.jsonl").write_text('{"repo": "a/b"}\n')
    assert review_rerun.main(["--reviews", str(directory)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("review_rerun: a__b.jsonl:1: needs the fields")
    assert "\n" not in err


def test_all_rules_selects_every_core_rule(tmp_path, capsys):
    clone, commit = _repo(tmp_path)
    reviews = _reviews(tmp_path, commit, [
        {"path": "train.py", "line": 9, "code": "TRN301", "verdict": "RIGHT"},
    ])
    assert review_rerun.main(["--clones", str(clone.parent), "--reviews", str(reviews), "--all-rules"]) == 0
    assert "| TRN301 | 1/1 (1 error) | 0/0 | 0/0 | 1 (1 error) |" in capsys.readouterr().out


def test_saved_reports_are_reused(tmp_path, capsys):
    clone, commit = _repo(tmp_path)
    reviews = _reviews(tmp_path, commit, [
        {"path": "train.py", "line": 9, "code": "TRN301", "verdict": "RIGHT"},
    ])
    runs = tmp_path / "runs"
    args = ["--clones", str(clone.parent), "--reviews", str(reviews), "--runs", str(runs)]
    review_rerun.main(args)
    first = capsys.readouterr().out
    saved = runs / "someone__toy.json"
    assert saved.exists()
    # the kept report is what the second call reads: an empty one means every verdict is gone
    saved.write_text(json.dumps({"version": "x", "findings": []}))
    review_rerun.main(args)
    second = capsys.readouterr().out
    assert "| TRN301 | 1/1 (1 error) |" in first
    assert "| TRN301 | 0/1 | 0/0 | 0/0 | 0 |" in second

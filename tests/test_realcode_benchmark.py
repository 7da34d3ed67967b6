"""benchmarks/realcode/score.py scores a manifest against local git copies (no network).

A tiny repository is made with git in a temporary directory, a manifest names instances in
it, and the real script runs the real `auditor check` on the committed tree. The expected
counts follow from where the checker's findings lie in the file written here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, auditor_env

SCRIPT = REPO_ROOT / "benchmarks" / "realcode" / "score.py"

TRAIN = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    x = torch.randn(8, 4)
    y = torch.randint(0, 3, (8,))
    for step in range(10):
        opt.zero_grad()
        probs = F.softmax(model(x), dim=1)
        loss = criterion(probs, y)
        loss.backward()
        opt.step()

    for step in range(10):
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        opt.step()
    """)
# Line numbers in TRAIN: softmax 12, CE 13 (TRN301); second loop 17-21, never zero_grad (TRN403);
# nn.Sequential with two Linear layers and no activation on line 5 (TRN503).

NOTEBOOK_CELLS = [
    ("markdown", "# demo\n"),
    ("code", "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
             "model = nn.Linear(4, 3)\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
             "criterion = nn.CrossEntropyLoss()\n"),
    ("code", "x = torch.randn(8, 4)\ny = torch.randint(0, 3, (8,))\nfor step in range(10):\n"
             "    opt.zero_grad()\n    probs = F.softmax(model(x), dim=1)\n    loss = criterion(probs, y)\n"
             "    loss.backward()\n    opt.step()\n"),
]  # cell 3, lines 5-6: softmax then CE (TRN301)


def _load(module: str):
    spec = importlib.util.spec_from_file_location(f"realcode_{module}", SCRIPT.parent / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


manifest_mod = _load("manifest")


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _repo_named(part: str, stem: str) -> str:
    """A repository name that the fixed held-out rule puts in `part`."""
    for n in range(100):
        name = f"someone/{stem}{n}"
        if manifest_mod.part_of(name) == part:
            return name
    raise AssertionError("no name found")


def _make_repo(where: Path, unreadable: bool = False) -> str:
    where.mkdir(parents=True)
    _git(where, "init", "-q")
    (where / "train.py").write_text(TRAIN)
    if unreadable:  # the checker names it on stderr and exits 1 even with --exit-zero
        (where / "legacy.py").write_text("# -*- coding: no-such-codec -*-\nx = 1\n")
    cells = [{"cell_type": kind, "metadata": {}, "source": src, **({"outputs": [], "execution_count": None}
              if kind == "code" else {})} for kind, src in NOTEBOOK_CELLS]
    (where / "nb").mkdir()
    (where / "nb" / "demo.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                          "nbformat_minor": 5}))
    _git(where, "add", "-A")
    _git(where, "commit", "-q", "-m", "one")
    return _git(where, "rev-parse", "HEAD")


def _instance(repo, commit, path, line, end_line, rule, label, **extra) -> dict:
    obj = {"repo": repo, "commit": commit, "path": path, "line": line, "end_line": end_line,
           "rule": rule, "label": label, "reason": "synthetic", "source": "reading"}
    obj.update(extra)
    return obj


def _write_manifest(directory: Path, repo: str, instances: list) -> None:
    directory.mkdir(exist_ok=True)
    owner, name = repo.split("/")
    with open(directory / f"{owner}__{name}.jsonl", "a") as handle:
        for obj in instances:
            handle.write(json.dumps(obj) + "\n")


def _score(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--manifest", str(tmp_path / "manifest"),
                           "--cache", str(tmp_path / "cache"), *args],
                          capture_output=True, text=True, env=auditor_env(), timeout=300)


@pytest.fixture
def bench(tmp_path):
    """A dev repository as a clone (clones/owner+name/.git) and a held-out one as a bare copy
    the way the fetch tool leaves it (mirror/owner+name/repo), each with a manifest file."""
    dev, held = _repo_named("dev", "dev"), _repo_named("heldout", "held")
    dev_commit = _make_repo(tmp_path / "clones" / dev.replace("/", "+"), unreadable=True)
    work = tmp_path / "work"
    held_commit = _make_repo(work)
    bare = tmp_path / "mirror" / held.replace("/", "+") / "repo"
    bare.parent.mkdir(parents=True)
    _git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    _write_manifest(tmp_path / "manifest", dev, [
        _instance(dev, dev_commit, "train.py", 12, 13, "TRN301", "bug"),      # found
        _instance(dev, dev_commit, "train.py", 17, 21, "TRN403", "bug"),      # found
        _instance(dev, dev_commit, "train.py", 17, 18, "TRN101", "bug"),      # missed: no such finding
        _instance(dev, dev_commit, "train.py", 5, 5, "TRN503", "non-bug"),    # flagged
        _instance(dev, dev_commit, "train.py", 10, 15, "TRN403", "non-bug"),  # quiet
        _instance(dev, dev_commit, "nb/demo.ipynb", 5, 6, "TRN301", "bug", cell=3),   # found in cell 3
        _instance(dev, dev_commit, "nb/demo.ipynb", 5, 6, "TRN301", "non-bug", cell=2),  # other cell: quiet
    ])
    _write_manifest(tmp_path / "manifest", held, [
        _instance(held, held_commit, "train.py", 12, 13, "TRN301", "bug"),   # found
        _instance(held, held_commit, "train.py", 1, 4, "TRN301", "bug"),     # missed: outside the span
        _instance(held, held_commit, "train.py", 17, 21, "TRN403", "non-bug"),  # flagged
    ])
    return {"tmp": tmp_path, "dev": dev, "held": held, "args": ["--clones", str(tmp_path / "clones"),
                                                                 "--clones", str(tmp_path / "mirror")]}


def test_scores_per_rule_and_per_part(bench):
    proc = _score(bench["tmp"], *bench["args"], "--part", "all", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    dev, held = result["parts"]["dev"], result["parts"]["heldout"]
    assert dev["total"] == {"bugs": 4, "found": 3, "non_bugs": 3, "flagged": 1}
    assert dev["by_rule"]["TRN301"] == {"bugs": 2, "found": 2, "non_bugs": 1, "flagged": 0}
    assert dev["by_rule"]["TRN101"] == {"bugs": 1, "found": 0, "non_bugs": 0, "flagged": 0}
    assert dev["core"] == {"bugs": 4, "found": 3, "non_bugs": 2, "flagged": 0}  # TRN503 is not core
    assert held["total"] == {"bugs": 2, "found": 1, "non_bugs": 1, "flagged": 1}
    assert result["parts"]["all"]["total"] == {"bugs": 6, "found": 4, "non_bugs": 4, "flagged": 2}
    assert result["not_scored"] == [] and result["invalid"] == []
    # A file the checker cannot read does not make the tree unscorable; it is recorded.
    unreadable = {run["repo"]: run["unreadable"] for run in result["runs"]}
    assert len(unreadable[bench["dev"]]) == 1 and "legacy.py" in unreadable[bench["dev"]][0]
    assert unreadable[bench["held"]] == []
    # Held-out instances are scored but never listed one by one.
    assert {o["repo"] for o in result["instances"]} == {bench["dev"]}


def test_a_severity_floor_counts_only_findings_at_or_above_it(bench):
    # TRN503 is reported at info: a CI gate that fails on warnings never shows it, so the
    # flagged non-bug drops out; the error-severity TRN301 and TRN403 finds stay.
    proc = _score(bench["tmp"], *bench["args"], "--part", "dev", "--json", "--min-severity", "warning")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    dev = result["parts"]["dev"]
    assert result["min_severity"] == "warning"
    assert dev["total"] == {"bugs": 4, "found": 3, "non_bugs": 3, "flagged": 0}
    default = json.loads(_score(bench["tmp"], *bench["args"], "--part", "dev", "--json").stdout)
    assert default["min_severity"] == "info" and default["parts"]["dev"]["total"]["flagged"] == 1


def test_text_output_lists_dev_misses_and_the_held_out_goals(bench):
    proc = _score(bench["tmp"], *bench["args"], "--part", "all", "--show", "misses")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "MISSED  TRN101" in out and "FLAGGED TRN503" in out
    assert "found   TRN301" not in out  # --show misses leaves out what went right
    assert "held-out part, issue 16's bar: bugs found 0.50" in out
    row = next(line for line in out.splitlines() if line.startswith("TRN301"))
    assert "2/2 1.00" in row and "1/2 0.50" in row  # dev found, held-out found


def test_markdown_table_has_one_row_per_rule_and_the_totals(bench):
    proc = _score(bench["tmp"], *bench["args"], "--part", "dev", "--markdown")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split(" | ")[0].lstrip("| "): line for line in proc.stdout.splitlines()}
    assert "| TRN301 | 2/2 1.00 | 0/1 0.00 |" in rows["TRN301"]
    assert "| **total** | 3/4 0.75 | 1/3 0.33 |" in rows["**total**"]


def test_only_the_requested_part_is_scored_and_cached(bench):
    proc = _score(bench["tmp"], *bench["args"], "--part", "heldout", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert list(result["parts"]) == ["heldout"] and result["instances"] == []
    assert [run["repo"] for run in result["runs"]] == [bench["held"]]
    cached = list((bench["tmp"] / "cache").rglob("*.json"))
    assert len(cached) == 1 and bench["held"].replace("/", "+") in str(cached[0])


def test_a_missing_copy_is_named_and_the_rest_still_scored(bench):
    ghost = "nobody/not-here"
    _write_manifest(bench["tmp"] / "manifest", ghost,
                    [_instance(ghost, "a" * 40, "x.py", 1, 1, "TRN101", "bug")])
    proc = _score(bench["tmp"], *bench["args"], "--part", "all", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["not_scored"] == [{"repo": ghost, "commit": "a" * 40, "instances": 1, "why": "no local copy"}]
    assert f"not scored: {ghost}" in proc.stderr
    assert result["parts"]["all"]["total"]["bugs"] == 6


def test_an_instance_outside_the_tree_is_reported_invalid(bench):
    _write_manifest(bench["tmp"] / "manifest", bench["dev"], [
        _instance(bench["dev"], _git(bench["tmp"] / "clones" / bench["dev"].replace("/", "+"), "rev-parse", "HEAD"),
                  "train.py", 30, 40, "TRN101", "bug")])
    proc = _score(bench["tmp"], *bench["args"], "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["invalid"]) == 1 and "has 21 lines" in result["invalid"][0]["why"]
    assert result["parts"]["dev"]["total"]["bugs"] == 4  # the invalid one is not counted


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ('{"repo": "a/b", "commit": "123", "path": "x.py", "line": 1, "rule": "TRN101", "label": "bug", '
     '"reason": "r", "source": "reading"}', "`commit` must be 40"),
    ('{"repo": "a/b", "commit": "' + "b" * 40 + '", "path": "x.py", "line": 1, "rule": "TRN101", '
     '"label": "maybe", "reason": "r", "source": "reading"}', "`label` must be one of"),
    ('{"repo": "a/b", "commit": "' + "b" * 40 + '", "path": "x.py", "line": 1, "rule": "TRN101", '
     '"label": "bug", "reason": "r", "source": "guess"}', '"reading", "review" or "fix-commit'),
])
def test_a_bad_manifest_line_is_one_clear_message(tmp_path, line, message):
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "a__b.jsonl").write_text(line + "\n")
    proc = _score(tmp_path, "--clones", str(tmp_path), "--stats")
    assert proc.returncode == 2
    assert proc.stderr.startswith("score.py: a__b.jsonl:1: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_a_reviewed_finding_is_a_valid_source(tmp_path):
    line = dict(_instance("a/b", "b" * 40, "x.py", 1, 1, "TRN101", "non-bug"), source="review")
    (tmp_path / "manifest").mkdir()
    (tmp_path / "manifest" / "a__b.jsonl").write_text(json.dumps(line) + "\n")
    proc = _score(tmp_path, "--clones", str(tmp_path), "--stats")
    assert proc.returncode == 0, proc.stderr


def test_an_instance_in_the_wrong_file_is_refused(tmp_path):
    _write_manifest(tmp_path / "manifest", "a/b", [])
    (tmp_path / "manifest" / "a__b.jsonl").write_text(json.dumps(_instance("c/d", "c" * 40, "x.py", 1, 1, "TRN101", "bug")))
    proc = _score(tmp_path, "--stats")
    assert proc.returncode == 2 and "belongs in c__d.jsonl" in proc.stderr


def test_the_held_out_rule_is_fixed_and_sets_aside_about_a_third():
    names = [f"owner{n}/repo{n}" for n in range(3000)]
    share = sum(manifest_mod.part_of(name) == "heldout" for name in names) / len(names)
    assert 0.30 < share < 0.37
    assert manifest_mod.part_of("Owner/Name") == manifest_mod.part_of("owner/name")  # case does not matter


def test_the_shipped_manifest_is_valid_and_counts_add_up():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--stats", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["instances"] == stats["bugs"] + stats["non_bugs"]
    assert sum(p["instances"] for p in stats["parts"].values()) == stats["instances"]


def test_a_stray_module_in_the_temporary_directory_does_not_stop_the_cache(bench, tmp_path):
    # The tool's source is located by importing it; run from the shared temporary directory,
    # a stray `rules.py` there would be imported instead and the results never cached.
    stray = tmp_path / "shared-tmp"
    stray.mkdir()
    (stray / "rules.py").write_text("raise ImportError('a stray module, not the tool')\n")
    env = {**auditor_env(), "TMPDIR": str(stray)}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--manifest", str(bench["tmp"] / "manifest"),
                           "--cache", str(bench["tmp"] / "cache"), *bench["args"], "--part", "heldout", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tool"]["source_sha1"]
    assert len(list((bench["tmp"] / "cache").rglob("*.json"))) == 1


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PYTHONSAFEPATH needs Python 3.11")
def test_a_repository_module_named_like_the_standard_library_does_not_stop_the_run(tmp_path):
    # `python -m auditor` runs in the materialised tree; a repository's own `warnings.py`
    # must not shadow the standard library's (it would crash the checker before any report).
    repo = _repo_named("dev", "shadow")
    where = tmp_path / "clones" / repo.replace("/", "+")
    _make_repo(where)
    (where / "warnings.py").write_text("raise ImportError('the repository, not the standard library')\n")
    _git(where, "add", "-A")
    _git(where, "commit", "-q", "-m", "two")
    commit = _git(where, "rev-parse", "HEAD")
    _write_manifest(tmp_path / "manifest", repo, [_instance(repo, commit, "train.py", 12, 13, "TRN301", "bug")])
    proc = _score(tmp_path, "--clones", str(tmp_path / "clones"), "--part", "dev", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["not_scored"] == []
    assert result["instances"][0]["hit"]

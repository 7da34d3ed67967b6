"""Several processes give the same results, in the same order, as one; a dead worker costs nothing."""

from __future__ import annotations

import os

import pytest

import auditor.engine as engine
from auditor.engine import EngineOptions, check_files
from auditor.findings import Severity
from auditor.rule import Rule
from rules import ALL_RULES
from tests.engine.helpers import PLAIN, TRAIN, files_of, flat, notebook, run, write


@pytest.fixture
def big_tree(tmp_path):
    root = tmp_path / "proj"
    for i in range(30):
        write(root, f"pkg{i % 3}/train_{i}.py", TRAIN.replace("val_ds", f"val_ds_{i}"))
        write(root, f"pkg{i % 3}/util_{i}.py", PLAIN)
    write(root, "pkg0/broken.py", "import torch\nfor x in:\n")
    (root / "pkg1" / "binary.py").write_bytes(b"\x00\x01\x02")
    notebook(root, "pkg2/nb.ipynb", ["import torch\n", TRAIN])
    (root / "pkg2" / "bad.ipynb").write_text("{not json", encoding="utf-8")
    return root


def test_jobs_do_not_change_results_or_their_order(big_tree):
    paths = files_of(big_tree)
    one = run(paths, jobs=1)
    for jobs in (2, 3):
        many = run(paths, jobs=jobs)
        assert [r.path for r in many] == paths
        assert flat(many) == flat(one)
    assert sum(1 for r in one for f in r.findings if f.code == "TRN203") == 31


def test_one_process_reads_each_file_once_unless_past_the_kept_bytes(big_tree, monkeypatch):
    paths = files_of(big_tree)
    reads: list[str] = []
    real = engine.read_bytes

    def counting(path):
        reads.append(path)
        return real(path)

    monkeypatch.setattr(engine, "read_bytes", counting)
    expected = flat(run(paths, jobs=1))
    assert sorted(reads) == sorted(paths)  # the first pass's bytes went to phase 1
    reads.clear()
    monkeypatch.setattr(engine, "MAX_KEPT_BYTES", 0)
    assert flat(run(paths, jobs=1)) == expected
    assert len(reads) > len(paths)  # nothing kept: phase 1 read them again


def test_few_files_stay_in_one_process(tmp_path, monkeypatch):
    write(tmp_path, "a.py", TRAIN)
    started = []
    monkeypatch.setattr(engine, "_Parallel", lambda *a: started.append(a) or pytest.fail("forked"))
    run(files_of(tmp_path), jobs=8)
    assert started == []


class _DiesInWorkers(Rule):
    """A rule that kills any process but the test's own on one file (a native crash stand-in)."""

    code = "TRN990"
    name = "dies-in-workers"
    severity = Severity.INFO
    summary = "test only"
    parent = os.getpid()

    def check(self, ctx) -> None:
        if ctx.path.endswith("train_7.py") and os.getpid() != self.parent:
            os._exit(3)
        if ctx.path.endswith("train_7.py"):
            ctx.report(ctx.module.body[0], "survived in the parent")


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="needs fork")
def test_a_dead_worker_is_replaced_by_the_parent(big_tree):
    paths = files_of(big_tree)
    rules = list(ALL_RULES) + [_DiesInWorkers()]
    one = check_files(paths, EngineOptions(rules=rules, jobs=1))
    two = check_files(paths, EngineOptions(rules=rules, jobs=2))
    assert flat(two) == flat(one)
    assert any(f.code == "TRN990" for r in two for f in r.findings)


def test_duplicate_paths_are_checked_once(tmp_path):
    path = str(write(tmp_path, "a.py", TRAIN))
    results = run([path, path])
    assert [r.path for r in results] == [path]

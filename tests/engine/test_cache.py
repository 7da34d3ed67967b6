"""The results cache: warm runs parse nothing, edits and helpers invalidate, writes are atomic."""

from __future__ import annotations

import multiprocessing
import os
import pickle

import pytest

import auditor.engine as engine
from auditor.cache import Cache, Entry, clean, open_cache, stable_digest
from auditor.config import Config
from rules import ALL_RULES
from tests.conftest import check_json, run_auditor
from tests.engine.helpers import PLAIN, TRAIN, ParseCounter, files_of, flat, notebook, run, write


def _cache(root, settings="s"):
    return Cache(str(root / ".auditor_cache"), settings)


@pytest.fixture
def tree(tmp_path):
    src = tmp_path / "src"
    write(src, "train.py", TRAIN)
    write(src, "plain.py", PLAIN)
    write(src, "broken.py", "import torch\ndef f(:\n")
    (src / "latin.py").write_bytes(b"import torch\nx = '\xe9'\n")
    notebook(src, "nb.ipynb", ["import torch\n", TRAIN])
    return src


def test_warm_run_parses_nothing_and_finds_the_same(tmp_path, tree, monkeypatch):
    paths = files_of(tree)
    cold = run(paths, cache=_cache(tmp_path))
    counter = ParseCounter(monkeypatch)
    warm = run(paths, cache=_cache(tmp_path))
    assert counter.count == 0
    assert flat(warm) == flat(cold)
    assert any(f.code == "TRN203" for r in warm for f in r.findings)
    assert any(f.code == "TRN000" for r in warm for f in r.findings)
    assert any(r.error is not None for r in warm)  # the non-UTF-8 file stays an error


def test_warm_results_carry_source_for_findings(tmp_path, tree):
    paths = files_of(tree)
    run(paths, cache=_cache(tmp_path))
    warm = run(paths, cache=_cache(tmp_path))
    with_findings = [r for r in warm if r.findings]
    assert with_findings and all(r.source is not None for r in with_findings)


def _shuffle_fix(results):
    return next(f for r in results for f in r.findings if f.code == "TRN203").fix


def test_findings_without_fixes_are_the_same_findings(tmp_path, tree):
    paths = files_of(tree)
    shown, plain = run(paths), run(paths, fixes=False)
    assert flat(plain) == flat(shown)
    assert _shuffle_fix(shown) is not None
    assert all(f.fix is None for r in plain for f in r.findings)


def test_entries_without_fixes_serve_only_runs_that_show_none(tmp_path, tree, monkeypatch):
    paths = files_of(tree)
    run(paths, cache=_cache(tmp_path), fixes=False)  # text output: no fix built, none stored
    counter = ParseCounter(monkeypatch)
    shown = run(paths, cache=_cache(tmp_path))  # JSON output needs them: computed now
    assert counter.count > 0
    assert _shuffle_fix(shown) is not None
    counter = ParseCounter(monkeypatch)
    again = run(paths, cache=_cache(tmp_path), fixes=False)  # entries with fixes serve it
    assert counter.count == 0
    assert flat(again) == flat(shown)
    assert _shuffle_fix(run(paths, cache=_cache(tmp_path))) is not None


def test_only_the_edited_file_is_parsed_again(tmp_path, tree, monkeypatch):
    paths = files_of(tree)
    run(paths, cache=_cache(tmp_path))
    write(tree, "train.py", TRAIN.replace("shuffle=True", "shuffle=False"))
    counter = ParseCounter(monkeypatch)
    results = run(paths, cache=_cache(tmp_path))
    assert counter.count == 1
    train = next(r for r in results if r.path.endswith("train.py"))
    assert not [f for f in train.findings if f.code == "TRN203"]


def test_a_changed_helper_summary_invalidates_its_importers(tmp_path, monkeypatch):
    # Summaries are the issue-3 engineer's; here a stand-in that names the functions.
    def summarize(ctx):
        return {"functions": sorted(n.name.value for n in ctx.module.body if hasattr(n, "name"))}

    monkeypatch.setattr(engine, "summarize_file", summarize)
    src = tmp_path / "src"
    write(src, "helpers.py", "import torch\ndef evaluate(model, loader):\n    return 1\n")
    write(src, "main.py", "import torch\nfrom helpers import evaluate\nevaluate(None, None)\n")
    write(src, "other.py", "import torch\nx = 1\n")
    paths = files_of(src)
    run(paths, cache=_cache(tmp_path))

    write(src, "helpers.py", "import torch\ndef evaluate(model, loader):\n    return 1\ndef train(m):\n    pass\n")
    counter = ParseCounter(monkeypatch)
    run(paths, cache=_cache(tmp_path))
    reparsed = sorted(t.split("\n")[1] for t in counter.paths)
    assert reparsed == ["def evaluate(model, loader):", "from helpers import evaluate"]

    # An edit that leaves the helper's summary alone leaves its importers alone too.
    write(src, "helpers.py", "import torch\ndef evaluate(model, loader):\n    return 2\ndef train(m):\n    pass\n")
    counter.paths.clear()
    run(paths, cache=_cache(tmp_path))
    assert [t.split("\n")[1] for t in counter.paths] == ["def evaluate(model, loader):"]


def test_settings_and_tool_changes_use_another_cache_file(tmp_path):
    config = Config()
    first = open_cache(config, ALL_RULES)
    fewer = open_cache(config, [r for r in ALL_RULES if r.code != "TRN203"])
    other = open_cache(Config(values={"per-file-ignores": {"*.py": ["TRN203"]}}), ALL_RULES)
    assert len({first.file, fewer.file, other.file}) == 3
    assert open_cache(Config(values={"jobs": 3}), ALL_RULES).file == first.file
    assert open_cache(Config(values={"cache": False}), ALL_RULES) is None


def test_a_corrupt_cache_file_is_ignored_and_replaced(tmp_path, tree):
    cache = _cache(tmp_path)
    os.makedirs(cache.directory, exist_ok=True)
    with open(cache.file, "wb") as handle:
        handle.write(b"\x80\x04garbage")
    paths = files_of(tree)
    assert flat(run(paths, cache=_cache(tmp_path))) == flat(run(paths))
    with open(cache.file, "rb") as handle:
        assert isinstance(pickle.load(handle), dict)


def _hammer(directory: str, number: int) -> None:
    for round_ in range(30):
        cache = Cache(directory, "race")
        cache.put(f"/p/{number}/{round_}.py", Entry(digest=str(round_)))
        cache.save()


def test_concurrent_writers_leave_a_readable_cache(tmp_path):
    directory = str(tmp_path / "cache")
    workers = [multiprocessing.get_context("fork").Process(target=_hammer, args=(directory, n)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert all(w.exitcode == 0 for w in workers)
    entries = Cache(directory, "race").entries
    assert entries and all(isinstance(e, Entry) for e in entries.values())
    assert not [n for n in os.listdir(directory) if n.startswith(".tmp-")]


def test_stable_digest_ignores_set_order_and_refuses_addresses():
    assert stable_digest({"b", "a", "c"}) == stable_digest({"c", "a", "b"})
    assert stable_digest({"x": [1, 2]}) != stable_digest({"x": [2, 1]})
    assert stable_digest(object()) is None


def test_clean_removes_only_our_directory(tmp_path):
    mine = tmp_path / "mine"
    cache = Cache(str(mine), "s")
    cache.put("/x.py", Entry(digest="d"))
    cache.save()
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert clean(str(other)) is False and (other / "keep.txt").exists()
    assert clean(str(mine)) is True and not mine.exists()


def test_cli_no_cache_and_clean(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    # TRN203 is an info finding: --fail-on info makes it fail the run.
    proc = run_auditor("check", "--fail-on", "info", "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 1 and "TRN203" in proc.stdout
    assert not (tmp_path / ".auditor_cache").exists()
    first = run_auditor("check", "--fail-on", "info", "train.py", cwd=tmp_path)
    assert (tmp_path / ".auditor_cache" / "CACHEDIR.TAG").exists()
    second = run_auditor("check", "--fail-on", "info", "train.py", cwd=tmp_path)
    assert second.stdout == first.stdout and second.returncode == first.returncode == 1
    cleaned = run_auditor("clean", cwd=tmp_path)
    assert cleaned.returncode == 0 and not (tmp_path / ".auditor_cache").exists()


def test_cli_json_after_a_text_run_still_shows_the_fix(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    # TRN203 is an info finding: --fail-on info makes it fail the run.
    assert run_auditor("check", "--fail-on", "info", "train.py", cwd=tmp_path).returncode == 1  # text: builds no fix
    payload, proc = check_json("--fail-on", "info", "train.py", cwd=tmp_path)
    [finding] = [f for f in payload["findings"] if f["code"] == "TRN203"]
    assert finding["fix"] is not None and finding["fix"]["edits"]


def test_config_cache_dir_and_cache_false(tmp_path):
    write(tmp_path, "train.py", TRAIN)
    write(tmp_path, "pyproject.toml", '[tool.auditor]\ncache-dir = "build/lint-cache"\n')
    run_auditor("check", "train.py", cwd=tmp_path)
    assert (tmp_path / "build" / "lint-cache" / "CACHEDIR.TAG").exists()
    assert not (tmp_path / ".auditor_cache").exists()
    write(tmp_path, "pyproject.toml", "[tool.auditor]\ncache = false\n")
    run_auditor("check", "train.py", cwd=tmp_path)
    assert not (tmp_path / ".auditor_cache").exists()


def test_summaries_are_digested_only_for_a_cache_even_in_workers(tmp_path, monkeypatch):
    options = engine.EngineOptions(rules=ALL_RULES, cache=_cache(tmp_path))
    in_worker = pickle.loads(pickle.dumps(options))
    assert in_worker.cache is None and in_worker.keyed
    assert not engine.EngineOptions(rules=ALL_RULES).keyed
    digested = []
    monkeypatch.setattr(engine, "stable_digest", lambda summary: digested.append(summary) or "d")
    write(tmp_path / "src", "train.py", TRAIN)
    engine.check_files(files_of(tmp_path / "src"), engine.EngineOptions(rules=ALL_RULES))
    assert digested == []
    engine.check_files(files_of(tmp_path / "src"), options)
    assert len(digested) == 1

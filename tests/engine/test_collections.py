"""The automatic garbage collector is paused during a check; explicit collections bound leaks."""

from __future__ import annotations

import gc

import auditor.engine as engine
from auditor.engine import EngineOptions, check_files
from rules import ALL_RULES
from tests.engine.helpers import TRAIN, write


def _full_collections(action) -> int:
    seen = []

    def record(phase, info):
        if phase == "start" and info["generation"] == 2:
            seen.append(info)

    gc.callbacks.append(record)
    try:
        action()
    finally:
        gc.callbacks.remove(record)
    return len(seen)


def test_collector_is_paused_during_a_check_and_restored_after(tmp_path, monkeypatch):
    path = write(tmp_path, "train.py", TRAIN)
    states = []
    prepare = engine.prepare

    def spying_prepare(*args, **kwargs):
        states.append(gc.isenabled())
        return prepare(*args, **kwargs)

    monkeypatch.setattr(engine, "prepare", spying_prepare)
    assert gc.isenabled()
    results = check_files([str(path)], EngineOptions(rules=ALL_RULES, jobs=1))
    assert [f.code for f in results[0].findings] == ["TRN203"]
    assert states == [False]
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled(tmp_path):
    path = write(tmp_path, "train.py", TRAIN)
    gc.disable()
    try:
        check_files([str(path)], EngineOptions(rules=ALL_RULES, jobs=1))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_worker_collects_every_so_many_files(tmp_path, monkeypatch):
    # Five unrelated files: phase 1 only, each file counted once.
    paths = [str(write(tmp_path, f"train_{i}.py", TRAIN)) for i in range(5)]
    monkeypatch.setattr(engine, "COLLECT_EVERY", 2)
    collections = _full_collections(lambda: check_files(paths, EngineOptions(rules=ALL_RULES, jobs=1)))
    assert collections == 2  # after the 2nd and the 4th file
    monkeypatch.setattr(engine, "COLLECT_EVERY", 1000)
    assert _full_collections(lambda: check_files(paths, EngineOptions(rules=ALL_RULES, jobs=1))) == 0

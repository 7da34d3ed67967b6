"""AUDITOR_DEBUG=1 lets analysis crashes raise; without it they degrade quietly for users.

A module summary that cannot be built costs only cross-file knowledge, and a rule that
crashes becomes a TRN999 finding: right for users, but it hid real bugs from the people
working on the rules. Both behaviours are checked on the same broken analysis.
"""

from __future__ import annotations

import pytest

import auditor.engine as engine
from tests.engine.helpers import TRAIN, run, write


def _broken(*args, **kwargs):
    raise RuntimeError("analysis bug")


@pytest.fixture
def project(tmp_path):
    return [str(write(tmp_path, "train.py", TRAIN))]


def test_broken_summary_degrades_quietly_for_users(project, monkeypatch):
    monkeypatch.delenv("AUDITOR_DEBUG", raising=False)
    monkeypatch.setattr(engine, "summarize_file", _broken)
    codes = [f.code for r in run(project) for f in r.findings]
    assert "TRN203" in codes  # the file's own findings survive


def test_broken_summary_raises_when_debugging(project, monkeypatch):
    monkeypatch.setenv("AUDITOR_DEBUG", "1")
    monkeypatch.setattr(engine, "summarize_file", _broken)
    with pytest.raises(RuntimeError, match="analysis bug"):
        run(project)


def test_rule_crash_is_a_finding_for_users_and_raises_when_debugging(project, monkeypatch):
    from rules.data import ShuffledEvalLoader

    monkeypatch.setattr(ShuffledEvalLoader, "check", _broken)
    monkeypatch.delenv("AUDITOR_DEBUG", raising=False)
    codes = [f.code for r in run(project) for f in r.findings]
    assert "TRN999" in codes and "TRN203" not in codes
    monkeypatch.setenv("AUDITOR_DEBUG", "1")
    with pytest.raises(RuntimeError, match="analysis bug"):
        run(project)

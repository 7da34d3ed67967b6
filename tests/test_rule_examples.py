"""Every registered rule's documented examples, through the real engine in one run.

bad_examples must be flagged by their rule; good_examples must not be. Covers every
rule in the catalog, so documentation cannot drift from behaviour.
"""

from __future__ import annotations

import textwrap

import pytest

from rules import ALL_RULES
from tests.conftest import check_json

STATIC = [r for r in ALL_RULES if r.is_static and (r.bad_examples or r.good_examples)]
CASES = [(rule, kind, i, text) for rule in STATIC
         for kind, examples in (("bad", rule.bad_examples), ("good", rule.good_examples))
         for i, text in enumerate(examples)]


def _file_name(rule, kind: str, index: int) -> str:
    return f"{rule.code.lower()}_{kind}_{index}.py"


@pytest.fixture(scope="module")
def findings_by_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("examples")
    for rule, kind, index, text in CASES:
        (directory / _file_name(rule, kind, index)).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    # --select ALL: opt-in rules (TRN409, TRN410, TRN602, TRN603) must flag their examples too.
    report, _ = check_json("-j", "1", "--select", "ALL", ".", cwd=directory)
    found: dict[str, set[str]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["path"].rsplit("/", 1)[-1], set()).add(finding["code"])
    return found


def test_every_static_rule_documents_both_kinds():
    missing = [r.code for r in ALL_RULES if r.is_static and r.code not in ("TRN000", "TRN999")
               and not (r.bad_examples and r.good_examples)]
    assert not missing, f"rules without a bad and a good example: {missing}"


@pytest.mark.parametrize("rule,kind,index,text", CASES,
                         ids=[f"{r.code}-{k}{i}" for r, k, i, _ in CASES])
def test_example(findings_by_file, rule, kind, index, text):
    codes = findings_by_file.get(_file_name(rule, kind, index), set())
    if kind == "bad":
        assert rule.code in codes, f"{rule.code} does not flag its own bad example"
    else:
        assert rule.code not in codes, f"{rule.code} flags its own good example"

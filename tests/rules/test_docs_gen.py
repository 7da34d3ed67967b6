"""docs/rules.md is generated from the rules' own docs and must be current."""

from __future__ import annotations

from pathlib import Path

from auditor.docs_gen import DEFAULT_OUTPUT, render
from rules import ALL_RULES


def test_committed_rules_page_is_current():
    committed = Path(DEFAULT_OUTPUT).read_text(encoding="utf-8")
    assert committed == render(ALL_RULES), (
        "docs/rules.md is out of date: regenerate it with `python -m auditor.docs_gen` and commit it")


def test_every_rule_has_a_section_with_its_docs():
    page = render(ALL_RULES)
    for rule in ALL_RULES:
        assert f"## {rule.code} {rule.name} ({rule.severity.label})" in page
        assert rule.summary in page
        if rule.bad_examples:
            assert "### Example" in page


def test_python_comments_in_examples_are_not_demoted_to_headings():
    from auditor.docs_gen import _demote

    assert _demote("# Title\n```python\n# a comment\n```\n## Sub") == "## Title\n```python\n# a comment\n```\n### Sub"

"""The runtime half speaks the catalog's language: same codes, names and severities everywhere."""

from __future__ import annotations

from auditor.rule import validate_rules
from reference_loop.codes import IDENTITY
from rules.runtime_checks import RUNTIME_RULES


def test_runtime_rules_are_well_formed_and_documented():
    validate_rules(RUNTIME_RULES)
    assert {r.code for r in RUNTIME_RULES} == {"TRN207", "TRN407", "TRN408", "TRN901", "TRN902", "TRN903",
                                                "TRN904", "TRN905"}
    for rule in RUNTIME_RULES:
        assert rule.kind == "runtime" and not rule.is_static
        assert rule.what and rule.why and rule.instead
        docs = rule.docs()
        assert docs.startswith(f"# {rule.code} {rule.name} ({rule.severity.label})")
        assert "runtime (`auditor run`, `auditor train`)" in docs


def test_identities_match_the_catalog():
    catalog = {r.code: (r.name, r.severity) for r in RUNTIME_RULES}
    try:
        from rules import ALL_RULES
    except Exception:  # pragma: no cover - the catalog is assembled by another module
        ALL_RULES = []
    catalog.update({r.code: (r.name, r.severity) for r in ALL_RULES})
    for code, identity in IDENTITY.items():
        if code in catalog:
            assert catalog[code] == identity, code
    for rule in RUNTIME_RULES:
        assert IDENTITY[rule.code] == (rule.name, rule.severity)

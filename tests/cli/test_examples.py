"""The bundled examples: every buggy script raises exactly what its docstring expects,
every fixed twin raises nothing."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT, check_json

EXAMPLES = REPO_ROOT / "examples"


def expected_codes(path) -> set[str]:
    match = re.search(r"expect:((?:\s+TRN\d{3})+)", path.read_text())
    return set(match.group(1).split()) if match else set()


# Run only when selected (README "The default experience"); their examples are checked with them.
OPT_IN = {"TRN409", "TRN410", "TRN602", "TRN603"}


def findings_by_example(*args: str) -> dict[str, set[str]]:
    data, _ = check_json(*args, str(EXAMPLES))
    found: dict[str, set[str]] = {}
    for f in data["findings"]:
        found.setdefault(f["path"].replace("\\", "/").split("examples/")[-1], set()).add(f["code"])
    return found


def test_examples_raise_what_they_document():
    # --select ALL: the examples of the opt-in rules raise what they document when selected.
    found = findings_by_example("--select", "ALL")
    buggy = sorted(EXAMPLES.glob("buggy/*.py"))
    fixed = sorted(EXAMPLES.glob("fixed/*.py"))
    assert buggy and len(buggy) == len(fixed)
    for path in buggy:
        assert (EXAMPLES / "fixed" / path.name).exists(), f"{path.name} has no fixed twin"
        expected = expected_codes(path)
        assert expected, f"{path.name} declares no expected codes"
        assert found.get(f"buggy/{path.name}", set()) == expected, path.name
    for path in fixed:
        assert found.get(f"fixed/{path.name}", set()) == set(), path.name


def test_the_default_run_leaves_the_opt_in_rules_out_of_the_examples():
    everything = findings_by_example("--select", "ALL")
    default = findings_by_example()
    documented = OPT_IN & set().union(*map(expected_codes, EXAMPLES.glob("buggy/*.py")))
    assert documented and documented <= set().union(*everything.values())  # examples do exercise some
    assert not OPT_IN & set().union(*default.values())
    # Everything else is reported by default, unchanged.
    expected = {path: codes - OPT_IN for path, codes in everything.items() if codes - OPT_IN}
    assert default == expected

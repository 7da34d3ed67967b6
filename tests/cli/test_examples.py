"""The bundled examples: every buggy script raises exactly what its docstring expects,
every fixed twin raises nothing."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT, check_json

EXAMPLES = REPO_ROOT / "examples"


def expected_codes(path) -> set[str]:
    match = re.search(r"expect:((?:\s+TRN\d{3})+)", path.read_text())
    return set(match.group(1).split()) if match else set()


def test_examples_raise_what_they_document():
    data, _ = check_json(str(EXAMPLES))
    found: dict[str, set[str]] = {}
    for f in data["findings"]:
        found.setdefault(f["path"].replace("\\", "/").split("examples/")[-1], set()).add(f["code"])
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

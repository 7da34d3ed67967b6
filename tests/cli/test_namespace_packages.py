"""A directory without `__init__.py` is a namespace package: `from model.net import Net`
imports model/net.py (Python 3), the layout of many research repositories. The program
model links such modules as it links packages, in the whole run and for a file named
alone (pre-commit). Every test runs the real command on real files."""

from __future__ import annotations

import pytest

from tests.cli.test_neighbours import EVALUATE, FIT as NEIGHBOUR_FIT, MODEL, SWITCHED, TRAIN, _findings, _on
from tests.conftest import write

# test_neighbours' model and training script, the model imported from a namespace package.
FIT = NEIGHBOUR_FIT.replace("from lib.model import Net", "from model.net import Net")


def _project(root, output: str = "F.softmax(self.fc(x), dim=1)", switch: str = ""):
    """model/ and lib/ hold no __init__.py; the scripts sit at the root beside them."""
    write(root, "pyproject.toml", "")
    write(root, "model/net.py", MODEL.replace("{output}", output))
    write(root, "fit.py", FIT)
    write(root, "lib/utils.py", EVALUATE)
    write(root, "train.py", TRAIN.replace("{switch}", switch))
    return root


@pytest.mark.parametrize("output,expected", [("F.softmax(self.fc(x), dim=1)", ["TRN301"]), ("self.fc(x)", [])])
def test_a_model_class_in_a_namespace_package_is_seen(tmp_path, output, expected):
    root = _project(tmp_path / "p", output=output)
    whole = _on(_findings(".", cwd=root), "fit.py")
    assert [f[1] for f in whole if f[1].startswith("TRN3")] == expected  # logits: silent
    assert _findings("fit.py", cwd=root) == whole


@pytest.mark.parametrize("switch,expected", [("", {"TRN101", "TRN102"}), (SWITCHED, set())])
def test_a_helper_in_a_namespace_package_is_linked_to_its_caller(tmp_path, switch, expected):
    root = _project(tmp_path / "p", switch=switch)
    whole = _on(_findings(".", cwd=root), "lib/utils.py")
    assert {f[1] for f in whole} == expected  # the caller sets the mode, or leaves training on
    assert _findings("lib/utils.py", cwd=root) == whole

"""Checking some files of a project reads their neighbours (auditor/neighbours.py).

Pre-commit names only the changed files. A finding on a file must not depend on that:
the project modules it imports and those importing it are read through their summaries
(never reported on), in the project found from pyproject.toml, setup.py/cfg or .git, or
the script's own directory. Every test runs the real command on real files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_auditor, write

EVALUATE = """
import torch


def evaluate(model, loader):
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""
# The caller decides the helper's mode: without {switch} the model is still training.
TRAIN = """
import torch
from lib.utils import evaluate


def fit(model, train_loader, val_loader, opt):
    for epoch in range(3):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        {switch}evaluate(model, val_loader)
"""
SWITCHED = "model.eval()\n        with torch.no_grad():\n            "
MODEL = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return {output}
"""
FIT = """
import torch.nn as nn
from lib.model import Net

model = Net()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
"""


def _project(root: Path, marker: str | None = "pyproject.toml", switch: str = "",
             output: str = "F.softmax(self.fc(x), dim=1)") -> Path:
    """lib/ (a package: the helper and the model) used from app/ (scripts)."""
    if marker == ".git":
        (root / ".git").mkdir(parents=True)
    elif marker:
        write(root, marker, "")
    write(root, "lib/__init__.py", "")
    write(root, "lib/utils.py", EVALUATE)
    write(root, "lib/model.py", MODEL.replace("{output}", output))
    write(root, "app/train.py", TRAIN.replace("{switch}", switch))
    write(root, "app/fit.py", FIT)
    return root


def _findings(*args: str, cwd: Path, cache: bool = False) -> list[tuple]:
    proc = run_auditor("check", "--output-format", "json", *([] if cache else ["--no-cache"]), *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return sorted((f["path"].replace(os.sep, "/"), f["code"], f["line"], f["column"], f["message"])
                  for f in json.loads(proc.stdout)["findings"])


def _on(findings: list[tuple], path: str) -> list[tuple]:
    return [f for f in findings if f[0] == path]


@pytest.mark.parametrize("switch,expected", [("", {"TRN101", "TRN102"}), (SWITCHED, set())])
def test_a_helper_named_alone_gets_the_findings_its_caller_in_another_module_gives_it(tmp_path, switch, expected):
    root = _project(tmp_path / "p", switch=switch)
    whole = _on(_findings(".", cwd=root), "lib/utils.py")
    assert {f[1] for f in whole} == expected  # the case, and the look-alike (eval set by the caller)
    assert _findings("lib/utils.py", cwd=root) == whole


@pytest.mark.parametrize("switch,expected", [("", {"TRN101", "TRN102"}), (SWITCHED, set())])
def test_a_helper_reached_through_its_package_name_is_linked_to_its_caller(tmp_path, switch, expected):
    # `import lib` then `lib.utils.evaluate(...)`: no import line names lib.utils.
    root = _project(tmp_path / "p", switch=switch)
    write(root, "lib/__init__.py", "from lib import utils\n")
    train = (root / "app" / "train.py").read_text()
    train = train.replace("from lib.utils import evaluate", "import lib").replace("evaluate(model", "lib.utils.evaluate(model")
    (root / "app" / "train.py").write_text(train)
    whole = _on(_findings(".", cwd=root), "lib/utils.py")
    assert {f[1] for f in whole} == expected
    assert _findings("lib/utils.py", cwd=root) == whole


@pytest.mark.parametrize("output,expected", [("F.softmax(self.fc(x), dim=1)", ["TRN301"]), ("self.fc(x)", [])])
def test_a_training_script_named_alone_sees_the_model_class_of_another_module(tmp_path, output, expected):
    root = _project(tmp_path / "p", output=output)
    whole = _on(_findings(".", cwd=root), "app/fit.py")
    assert [f[1] for f in whole if f[1].startswith("TRN3")] == expected  # a model returning logits: silent
    assert _findings("app/fit.py", cwd=root) == whole
    assert _findings(str(root / "app" / "fit.py"), cwd=tmp_path) == [
        (str(root / "app" / "fit.py"), *f[1:]) for f in whole]  # named from elsewhere, by its full path


@pytest.mark.parametrize("output,expected", [("F.softmax(self.fc(x), dim=1)", ["TRN301"]), ("self.fc(x)", [])])
@pytest.mark.parametrize("use", ["import lib\nmodel = lib.Net()", "from lib import Net\nmodel = Net()"])
def test_a_class_re_exported_by_its_package_is_seen_from_a_script_named_alone(tmp_path, output, expected, use):
    # lib/__init__.py re-exports the model module (`from .model import *`): the script never
    # names lib.model, yet the class it builds is defined there (d2l's notebooks, many packages).
    root = _project(tmp_path / "p", output=output)
    write(root, "lib/__init__.py", "from .model import *\nfrom .utils import *\n")
    fit = FIT.replace("from lib.model import Net\n\nmodel = Net()", use)
    (root / "app" / "fit.py").write_text(fit)
    whole = _on(_findings(".", cwd=root), "app/fit.py")
    assert [f[1] for f in whole if f[1].startswith("TRN3")] == expected
    assert _findings("app/fit.py", cwd=root) == whole


@pytest.mark.parametrize("switch,expected", [("", {"TRN101", "TRN102"}), (SWITCHED, set())])
def test_a_helper_named_alone_is_linked_to_a_caller_that_imports_it_through_its_package(tmp_path, switch, expected):
    # The caller imports `evaluate` from the package, which re-exports lib.utils: editing
    # lib/utils.py alone must still see how its caller sets the mode.
    root = _project(tmp_path / "p", switch=switch)
    write(root, "lib/__init__.py", "from .utils import evaluate\n")
    train = (root / "app" / "train.py").read_text().replace("from lib.utils import evaluate", "from lib import evaluate")
    (root / "app" / "train.py").write_text(train)
    whole = _on(_findings(".", cwd=root), "lib/utils.py")
    assert {f[1] for f in whole} == expected
    assert _findings("lib/utils.py", cwd=root) == whole


def test_the_neighbours_are_read_but_never_reported_on(tmp_path):
    root = _project(tmp_path / "p")
    assert _on(_findings(".", cwd=root), "lib/utils.py")  # the helper has findings of its own...
    named = _findings("app/train.py", "app/fit.py", cwd=root)
    assert named and {f[0] for f in named} == {"app/fit.py"}  # ...which a run naming its callers never shows
    proc = run_auditor("check", "--no-cache", "app/train.py", cwd=root)
    assert "1 file checked" in proc.stdout


def test_editing_a_neighbour_changes_a_warm_run_of_the_named_file(tmp_path):
    root = _project(tmp_path / "p")
    first = _findings("lib/utils.py", cwd=root, cache=True)
    assert {f[1] for f in first} == {"TRN101", "TRN102"}
    assert _findings("lib/utils.py", cwd=root, cache=True) == first  # warm: replayed
    write(root, "app/train.py", TRAIN.replace("{switch}", SWITCHED))  # only the caller changes
    assert _findings("lib/utils.py", cwd=root, cache=True) == []
    assert _findings("lib/utils.py", cwd=root, cache=True) == []
    write(root, "app/train.py", TRAIN.replace("{switch}", ""))
    assert _findings("lib/utils.py", cwd=root, cache=True) == first


def test_a_new_file_importing_the_named_one_changes_a_warm_run(tmp_path):
    root = _project(tmp_path / "p")
    write(root, "app/train.py", TRAIN.replace("{switch}", SWITCHED))
    assert _findings("lib/utils.py", cwd=root, cache=True) == []
    assert _findings("lib/utils.py", cwd=root, cache=True) == []
    write(root, "app/again.py", TRAIN.replace("{switch}", ""))  # a second caller, in training mode
    assert {f[1] for f in _findings("lib/utils.py", cwd=root, cache=True)} == {"TRN101", "TRN102"}


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.py", "setup.cfg", ".git"])
def test_the_project_root_is_found_from_its_marker(tmp_path, marker):
    # The caller lives in a sibling directory: it is read only when the root holds both.
    root = _project(tmp_path / "p", marker=marker)
    assert {f[1] for f in _findings("utils.py", cwd=root / "lib")} == {"TRN101", "TRN102"}


def test_without_a_marker_a_script_s_own_directory_is_its_project(tmp_path):
    root = _project(tmp_path / "p", marker=None)
    # lib/'s caller in app/ is outside lib/ (Python would not find app/ from lib/ either).
    assert {f[1] for f in _findings("lib/utils.py", cwd=root)} == {"TRN102"}
    # Scripts side by side in one directory are one project.
    write(root, "scripts/utils.py", EVALUATE)
    write(root, "scripts/train.py", TRAIN.replace("from lib.utils", "from utils").replace("{switch}", ""))
    assert {f[1] for f in _findings("utils.py", cwd=root / "scripts")} == {"TRN101", "TRN102"}


def test_an_excluded_file_is_no_neighbour(tmp_path):
    root = _project(tmp_path / "p")
    write(root, "pyproject.toml", '[tool.auditor]\nextend-exclude = ["app"]\n')
    assert {f[1] for f in _findings("lib/utils.py", cwd=root)} == {"TRN102"}
    assert _on(_findings(".", cwd=root), "lib/utils.py") == _findings("lib/utils.py", cwd=root)


def test_a_module_name_is_read_in_its_own_script_directory(tmp_path):
    # Two example directories each hold a model.py: a script reads the one beside it
    # (what Python imports), never the other directory's.
    root = tmp_path / "p"
    write(root, "pyproject.toml", "")
    for name, output in (("a", "F.softmax(self.fc(x), dim=1)"), ("b", "self.fc(x)")):
        write(root, f"{name}/model.py", MODEL.replace("{output}", output))
        write(root, f"{name}/fit.py", FIT.replace("from lib.model", "from model"))
    assert [f[1] for f in _findings("a/fit.py", cwd=root)] == ["TRN301"]
    assert [f[1] for f in _findings("b/fit.py", cwd=root)] == []
    # The whole directory reads each script's own model.py too (one index, a view per file).
    assert [(f[0], f[1]) for f in _findings(".", cwd=root)] == [("a/fit.py", "TRN301")]

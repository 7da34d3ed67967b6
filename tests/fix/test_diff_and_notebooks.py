"""`--diff` output that `patch -p0` applies, and notebooks fixed cell by cell."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import run_auditor, write
from tests.fix._roundtrip import fix

FILES = {
    "pkg/model.py": """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return F.dropout(self.fc(x), 0.5)
""",
    "train.py": """
import torch

state = torch.load("ckpt.pt")
torch.save(model, "model.pt")
""",
    "no_newline_at_end.py": "import torch\nstate = torch.load('a.pt')",
}


def _tree(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*.py"))}


@pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch is not installed")
def test_diff_applies_with_patch_p0_and_equals_fix(tmp_path):
    diffed, fixed = tmp_path / "diffed", tmp_path / "fixed"
    for directory in (diffed, fixed):
        for name, text in FILES.items():
            if name.startswith("no_newline"):
                (directory / name).parent.mkdir(parents=True, exist_ok=True)
                (directory / name).write_text(text)
            else:
                write(directory, name, text)
    original = _tree(diffed)
    # TRN602 (unsafe-torch-load, opt-in) is selected: its weights_only=True fixes are part of the diff.
    proc = run_auditor("check", "--diff", "--unsafe-fixes", "--extend-select", "TRN602", "-j", "1", ".", cwd=diffed)
    assert proc.returncode == 1, proc.stderr
    assert _tree(diffed) == original  # --diff writes nothing
    assert proc.stdout.startswith("--- ")
    assert "+++ pkg/model.py" in proc.stdout
    assert "would fix 5 findings in 3 files" in proc.stderr
    applied = subprocess.run(["patch", "-p0", "--batch"], input=proc.stdout, text=True, cwd=diffed,
                             capture_output=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    fix(fixed, "TRN5,TRN6", "--unsafe-fixes")
    assert _tree(diffed) == _tree(fixed)
    again = run_auditor("check", "--diff", "--unsafe-fixes", "--extend-select", "TRN602", "-j", "1", ".", cwd=diffed)
    assert again.returncode == 0 and again.stdout == ""


NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n", "notes"]},
        {"cell_type": "code", "execution_count": 1, "metadata": {"tags": ["setup"]},
         "outputs": [{"name": "stdout", "output_type": "stream", "text": ["ready\n"]}],
         "source": ["%matplotlib inline\n", "import torch\n", "import torch.nn as nn\n",
                    "import torch.nn.functional as F"]},
        {"cell_type": "code", "execution_count": 2, "metadata": {},
         "outputs": [{"data": {"text/plain": ["42"]}, "execution_count": 2, "metadata": {},
                      "output_type": "execute_result"}],
         "source": ["class Net(nn.Module):\n", "    def __init__(self):\n", "        self.fc = nn.Linear(4, 2)\n",
                    "\n", "    def forward(self, x):\n", "        return F.dropout(self.fc(x), 0.5)"]},
        {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [],
         "source": "state = torch.load('ckpt.pt')  # résumé\n!ls"},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def test_notebook_fixed_in_place_cell_by_cell(tmp_path):
    path = tmp_path / "train.ipynb"
    path.write_text(json.dumps(NOTEBOOK, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    proc = fix(tmp_path, "TRN501,TRN502,TRN602", "--unsafe-fixes")  # TRN602's fix is unsafe
    assert proc.returncode == 0, proc.stdout
    assert "fixed 3" in proc.stdout
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    assert cells[0] == NOTEBOOK["cells"][0] and cells[1] == NOTEBOOK["cells"][1]
    assert notebook["metadata"] == NOTEBOOK["metadata"]
    assert cells[2]["outputs"] == NOTEBOOK["cells"][2]["outputs"]
    assert cells[2]["execution_count"] == 2
    assert cells[2]["source"] == ["class Net(nn.Module):\n", "    def __init__(self):\n",
                                  "        super().__init__()\n", "        self.fc = nn.Linear(4, 2)\n", "\n",
                                  "    def forward(self, x):\n",
                                  "        return F.dropout(self.fc(x), 0.5, training=self.training)"]
    assert cells[3]["source"] == "state = torch.load('ckpt.pt', weights_only=True)  # résumé\n!ls"
    # The same layout as nbformat writes: only the fixed lines differ.
    assert path.read_text(encoding="utf-8") == json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    before = path.read_bytes()
    fix(tmp_path, "TRN501,TRN502,TRN602")
    assert path.read_bytes() == before

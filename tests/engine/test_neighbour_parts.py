"""Checking one file alone (a pre-commit hook) whose project neighbour imports nothing.

A neighbour that imports nothing may be a lesson's part, run in the namespace of the other
files of its directory. Reading such a neighbour crashed the run (an internal error on
pytorch_tabular, seen by benchmarks/single_vs_whole.py); the file alone must give the
findings the whole project gives.
"""

from __future__ import annotations

from tests.conftest import check_json, write

_TRAIN = """
import torch
from helpers import scale

model = torch.nn.Linear(4, 2)
test_loader = torch.utils.data.DataLoader(torch.load("test.pt"), batch_size=8)
for x, y in test_loader:
    out = model(scale(x))
"""
# Imports nothing: a helper written as a lesson's part.
_HELPERS = """
def scale(x):
    return x * 2
"""


def test_file_alone_with_an_importless_neighbour_matches_the_project(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, "train.py", _TRAIN)
    write(tmp_path, "helpers.py", _HELPERS)
    alone, proc = check_json("--select", "TRN101,TRN102", "train.py", cwd=tmp_path)
    whole, _ = check_json("--select", "TRN101,TRN102", ".", cwd=tmp_path)
    assert "internal error" not in proc.stderr
    assert {(f["code"], f["line"]) for f in alone["findings"]} == \
        {(f["code"], f["line"]) for f in whole["findings"] if f["path"] == "train.py"}
    assert {f["code"] for f in alone["findings"]} == {"TRN101", "TRN102"}

"""TRN301/TRN302 on a model and a criterion that another module builds at module level: a
notebook cut into scripts (`part_3.py` trains `model` with `criterion`, neither bound nor
imported there, both built by `part_1.py` in the same folder), or a script importing the
instances by name or by a star import."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases


def _part_1(head: str, loss: str = "nn.CrossEntropyLoss()") -> str:
    return f"""
import torch
import torch.nn as nn


class IrisNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.head = {head}

    def forward(self, x):
        return self.head(self.fc(x))


model = IrisNet()
criterion = {loss}
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
"""


SOFTMAX, LOGITS = "nn.Softmax(dim=1)", "nn.Identity()"

# The training part of the notebook: uses torch and the other parts' names, imports nothing.
FRAGMENT = """
X = torch.randn(8, 4)
y = torch.randint(0, 3, (8,))
for epoch in range(100):
    optimizer.zero_grad()
    outputs = model(X)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
"""


def _importing(line: str) -> str:
    return line + "\nimport torch\n" + FRAGMENT


def test_fragment_trains_the_softmax_model_of_its_folder(tmp_path):
    found = run_cases(tmp_path, {"part_1.py": _part_1(SOFTMAX), "part_3.py": FRAGMENT}, "TRN301")
    assert codes_lines(found["part_3.py"]) == [("TRN301", 6)]


def test_fragment_with_a_logits_model_is_silent(tmp_path):
    found = run_cases(tmp_path, {"part_1.py": _part_1(LOGITS), "part_3.py": FRAGMENT}, "TRN301")
    assert codes_lines(found["part_3.py"]) == []


def test_fragment_of_another_folder_is_silent(tmp_path):
    # The softmax model lives in another lesson's folder: not what this fragment runs after.
    found = run_cases(tmp_path, {"a/part_1.py": _part_1(SOFTMAX), "b/part_3.py": FRAGMENT}, "TRN301")
    assert codes_lines(found["b/part_3.py"]) == []


def test_fragment_whose_folder_builds_the_name_twice_differently_is_silent(tmp_path):
    found = run_cases(tmp_path, {"part_1.py": _part_1(SOFTMAX), "part_2.py": _part_1(LOGITS),
                                 "part_3.py": FRAGMENT}, "TRN301")
    assert codes_lines(found["part_3.py"]) == []


def test_instances_imported_by_name(tmp_path):
    source = _importing("from part_1 import model, criterion, optimizer")
    found = run_cases(tmp_path, {"part_1.py": _part_1(SOFTMAX), "train.py": source}, "TRN301")
    assert codes_lines(found["train.py"]) == [("TRN301", 9)]


def test_instances_imported_by_name_logits_model_is_silent(tmp_path):
    source = _importing("from part_1 import model, criterion, optimizer")
    found = run_cases(tmp_path, {"part_1.py": _part_1(LOGITS), "train.py": source}, "TRN301")
    assert codes_lines(found["train.py"]) == []


def test_instances_star_imported_sigmoid_into_bce_with_logits(tmp_path):
    source = _importing("from part_1 import *")
    part = _part_1("nn.Sigmoid()", "nn.BCEWithLogitsLoss()")
    found = run_cases(tmp_path, {"part_1.py": part, "train.py": source}, "TRN302")
    assert codes_lines(found["train.py"]) == [("TRN302", 9)]


def test_instances_star_imported_into_a_bce_loss_is_silent(tmp_path):
    # nn.BCELoss expects the sigmoid's probabilities: correct.
    source = _importing("from part_1 import *")
    part = _part_1("nn.Sigmoid()", "nn.BCELoss()")
    found = run_cases(tmp_path, {"part_1.py": part, "train.py": source}, "TRN302")
    assert codes_lines(found["train.py"]) == []

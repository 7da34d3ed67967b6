"""TRN301 on a model whose forward applies the layers of a ModuleList (or Sequential) in a loop,
`for layer in self.layers: x = layer(x)`: what leaves the loop is the container's last layer."""

from __future__ import annotations

import textwrap

from tests.rules._core_cases import codes_lines, run_cases

TRAIN = """
model = MLP([4, 8, 3])
criterion = nn.CrossEntropyLoss()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x, y in loader:
    opt.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    opt.step()
"""


def _mlp(init_tail: str, body: str = "x = layer(x)") -> str:
    return f"""
import torch
import torch.nn as nn

class MLP(nn.Module):
    def __init__(self, sizes, softmax=True):
        super().__init__()
        self.layers = nn.ModuleList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            self.layers.append(nn.Linear(a, b))
            self.layers.append(nn.ReLU())
{init_tail}

    def forward(self, x):
        for layer in self.layers:
            {body}
        return x
""" + TRAIN


SOFTMAX_LAST = "        self.layers.append(nn.Softmax(dim=1))"


def _loss_line(source: str) -> int:
    lines = textwrap.dedent(source).lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if "loss = criterion" in line)


def test_modulelist_applied_in_a_loop_ending_in_softmax(tmp_path):
    source = _mlp(SOFTMAX_LAST)
    found = run_cases(tmp_path, {"train.py": source}, "TRN301")
    assert codes_lines(found["train.py"]) == [("TRN301", _loss_line(source))]


def test_literal_modulelist_ending_in_softmax(tmp_path):
    source = _mlp("        self.layers = nn.ModuleList([nn.Linear(4, 3), nn.Softmax(dim=1)])").replace(
        "        self.layers = nn.ModuleList()\n", "", 1)
    source = source.replace("            self.layers.append(nn.Linear(a, b))\n            self.layers.append(nn.ReLU())\n",
                            "            pass\n")
    found = run_cases(tmp_path, {"train.py": source}, "TRN301")
    assert codes_lines(found["train.py"]) == [("TRN301", _loss_line(source))]


def test_loop_ending_in_a_linear_layer_is_not_flagged(tmp_path):
    found = run_cases(tmp_path, {"train.py": _mlp("        self.layers.append(nn.Linear(3, 3))")}, "TRN301")
    assert found["train.py"] == []


def test_softmax_appended_under_a_flag_is_not_flagged(tmp_path):
    found = run_cases(tmp_path, {"train.py": _mlp("        if softmax:\n    " + SOFTMAX_LAST)}, "TRN301")
    assert found["train.py"] == []


def test_loop_applying_more_than_the_layer_is_not_flagged(tmp_path):
    found = run_cases(tmp_path, {"train.py": _mlp(SOFTMAX_LAST, "x = torch.log(layer(x))")}, "TRN301")
    assert found["train.py"] == []

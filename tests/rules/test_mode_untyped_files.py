"""TRN101/TRN103 in files that never name torch: an evaluation helper handed the model and
the loader by the training script (`utils.py: def evaluate(model, loader)`, which only calls
`model(x)` and `.argmax()`), and a runner that steps a wrapper of another module
(`self.model.step(batch)`). The rules used to skip any file not mentioning torch, so the
helper's evaluation in training mode (the script calls it right after its training loop) was
never looked at. Each bug beside its look-alike, through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

UTILS = """
def evaluate(model, loader):
    {switch}
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""

TRAIN = """
import torch
import torch.nn as nn

from utils import evaluate

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(5):
    model.train()
    for x, y in train_loader:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    print(evaluate(model, val_loader))
"""

FORWARD_LINE = UTILS.splitlines().index("        correct += (model(x).argmax(1) == y).sum().item()")


def test_helper_without_torch_import(tmp_path):
    found = run_cases(tmp_path / "bug", {"p/utils.py": UTILS.format(switch="pass"), "p/train.py": TRAIN}, "TRN101")
    assert codes_lines(found["p/utils.py"]) == [("TRN101", FORWARD_LINE)]
    found = run_cases(tmp_path / "ok", {"p/utils.py": UTILS.format(switch="model.eval()"), "p/train.py": TRAIN},
                      "TRN101")
    assert codes_lines(found["p/utils.py"] + found["p/train.py"]) == []

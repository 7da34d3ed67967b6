"""TRN101 on a model object imported from the module whose top level builds and trains it.

Tutorial projects train at the top level of `model.py` (`model = Net()`, then the epoch
loop) and evaluate in `test.py` with `from model import model`: importing runs the
training, which leaves the model in training mode, so the test accuracy is measured with
dropout on. Before, the imported name was a library call to the checker (nothing known).

Look-alikes: the same test script calling `model.eval()` first; a `model.py` whose top level
ends with `model.eval()`; one whose training and `model.eval()` sit under
`if __name__ == "__main__":` is imported fresh (training mode), so it is still flagged. A
model with neither dropout nor batch norm is reported as info (its layers are read in the
module that builds it).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

DATA = """
train_loader = []
test_loader = []
"""

MODEL = """
import torch
import torch.nn as nn
from data import train_loader


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.drop = nn.Dropout(0.5)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.drop(self.fc(x)))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
{end}
"""

TEST = """
import torch
from data import test_loader
from model import model
{switch}
with torch.no_grad():
    correct = 0
    for x, y in test_loader:
        outputs = model(x)
        correct += (outputs.argmax(1) == y).sum().item()
print(correct)
"""

CASES = {}
for case, end, switch in (("bug", "", ""),
                          ("test_eval", "", "model.eval()"),
                          ("module_eval", "model.eval()", "")):
    CASES[f"{case}/data.py"] = DATA
    CASES[f"{case}/model.py"] = MODEL.replace("{end}", end)
    CASES[f"{case}/test.py"] = TEST.replace("{switch}", switch)

# Training and the switch to eval only when run as a script: importing skips both.
GUARDED = """
import torch
import torch.nn as nn
from data import train_loader

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))

if __name__ == "__main__":
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()
"""
CASES["main_guard/data.py"] = DATA
CASES["main_guard/model.py"] = GUARDED
CASES["main_guard/test.py"] = TEST.replace("{switch}", "")

# A model with no dropout and no batch norm: both modes compute the same numbers (info).
CASES["linear/data.py"] = DATA
CASES["linear/model.py"] = MODEL.replace("self.drop = nn.Dropout(0.5)", "self.drop = nn.ReLU()").replace("{end}", "")
CASES["linear/test.py"] = TEST.replace("{switch}", "")

EXPECTED = {
    "bug/test.py": [("TRN101", 8)],
    "bug/model.py": [],
    "test_eval/test.py": [],
    "module_eval/test.py": [],
    "module_eval/model.py": [],
    "main_guard/test.py": [("TRN101", 8)],
    "linear/test.py": [("TRN101", 8)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_imported_objects"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_severity_follows_the_exporting_modules_layers(found):
    # The imported object's layers are read where it is built: dropout makes it an error.
    assert [f["severity"] for f in found["bug/test.py"]] == ["error"]
    assert [f["severity"] for f in found["linear/test.py"]] == ["info"]

"""TRN301/TRN303 through a factory of another module that returns a model class of a third one
(`get_model(name)` in factory.py returning `nets.A()` or `nets.B()`), imported by name or by a
star import, the model then held by a solver object."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

NETS = """
import torch.nn as nn
import torch.nn.functional as F

class A(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)

class B(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)

class Logits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc(x)
"""


def _factory(second: str) -> str:
    return f"""
import torch.nn as nn
import nets

def get_model(name):
    if name == 'a':
        return nets.A()
    model = nets.{second}()
    return model
"""


MAIN = """
import torch.nn as nn
from factory import get_model

model = get_model(args.name)
crit = nn.CrossEntropyLoss()
for x, y in loader:
    loss = crit(model(x), y)
"""

SOLVER = """
import torch.nn as nn
import torch.nn.functional as F
from factory import *

class Solver:
    def __init__(self, name):
        self.C1 = get_model(name)

    def test(self, loader):
        for x, y in loader:
            out = self.C1(x)
            loss = F.nll_loss(out, y)
"""


def test_imported_factory_of_softmax_classes(tmp_path):
    found = run_cases(tmp_path, {"nets.py": NETS, "factory.py": _factory("B"), "main.py": MAIN}, "TRN301")
    assert codes_lines(found["main.py"]) == [("TRN301", 7)]


def test_imported_factory_with_a_logits_class_is_silent(tmp_path):
    found = run_cases(tmp_path, {"nets.py": NETS, "factory.py": _factory("Logits"), "main.py": MAIN}, "TRN301")
    assert codes_lines(found["main.py"]) == []


def test_star_imported_factory_held_by_a_solver_nll(tmp_path):
    # NLLLoss of a model whose every class returns probabilities (softmax): TRN303.
    found = run_cases(tmp_path, {"nets.py": NETS, "factory.py": _factory("B"), "solver.py": SOLVER}, "TRN303")
    assert codes_lines(found["solver.py"]) == [("TRN303", 12)]

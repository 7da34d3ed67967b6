"""Families behind bugs that upstream fix commits confirmed (session 15), each with the bug the
rule must find and the correct look-alike it must leave alone. Through the real command.

- TRN101: a model rebound to a method result that is the module itself,
  `net = net.type(FloatTensor)` (the 2017 cuda/FloatTensor idiom), `Net().apply(init)`,
  `.requires_grad_(...)`, `.bfloat16()`: still the module built above, with its batch norm,
  evaluated in train mode. After `net.eval()` it is not.
- TRN301: a model chosen among classes by configuration (`if args.model == 'cnn': net = CNN()
  elif ...: net = MLP()`), one of which ends in `nn.Softmax`, trained with cross-entropy:
  wrong on the configuration that picks it. Alternatives that all return logits (or
  log-probabilities) are not flagged, nor are two sequential rebindings (not alternatives).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_REBOUND = """
import torch
import torch.nn as nn

FloatTensor = torch.cuda.FloatTensor if torch.cuda.is_available() else torch.FloatTensor

def init(m):
    pass

train_loader = torch.utils.data.DataLoader(list(range(10)), batch_size=2, shuffle=True)
test_loader = torch.utils.data.DataLoader(list(range(10)), batch_size=2)

net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Linear(16, 2))
net = net.{method}
optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    for j, (x, y) in enumerate(train_loader):
        {train_switch}
        optimizer.zero_grad()
        loss = criterion(net(x), y)
        loss.backward()
        optimizer.step()
        if (j + 1) % 100 == 0:
            {eval_switch}
            with torch.no_grad():
                for x, y in test_loader:
                    predicted = net(x).argmax(1)
"""


@pytest.mark.parametrize("method", ["type(FloatTensor)", "apply(init)", "requires_grad_(True)", "bfloat16()"])
def test_self_returning_rebinding_keeps_the_model(tmp_path, method):
    cases = {
        "bug.py": _REBOUND.format(method=method, train_switch="pass", eval_switch="pass"),
        "ok.py": _REBOUND.format(method=method, train_switch="net.train()", eval_switch="net.eval()"),
    }
    found = run_cases(tmp_path, cases, "TRN101,TRN103")
    assert codes_lines(found["bug.py"]) == [("TRN101", 27)]
    assert found["ok.py"] == []


_NETS = """
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)
        self.softmax = nn.{mlp_head}

    def forward(self, x):
        return self.softmax(self.fc(x))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)
"""

_CHOSEN = """
import sys
import torch
import torch.nn.functional as F
from nets import CNN, MLP


def main(args, loader):
    if args.model == 'cnn':
        net = CNN()
    elif args.model == 'mlp':
        net = MLP()
    else:
        sys.exit('unknown model')
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
"""

_SEQUENTIAL = """
import torch
import torch.nn.functional as F
from nets import CNN, MLP


def main(loader):
    net = MLP()
    net = CNN()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
"""


def test_model_chosen_among_classes_one_ending_in_softmax(tmp_path):
    found = run_cases(tmp_path, {"nets.py": _NETS.format(mlp_head="Softmax(dim=1)"), "main.py": _CHOSEN},
                      "TRN301")
    assert codes_lines(found["main.py"]) == [("TRN301", 17)]
    assert "MLP" in found["main.py"][0]["message"]


def test_model_chosen_among_classes_that_return_logits(tmp_path):
    found = run_cases(tmp_path, {"nets.py": _NETS.format(mlp_head="Identity()"), "main.py": _CHOSEN},
                      "TRN301")
    assert found["main.py"] == []


def test_rebinding_in_sequence_is_no_alternative(tmp_path):
    found = run_cases(tmp_path, {"nets.py": _NETS.format(mlp_head="Softmax(dim=1)"), "main.py": _SEQUENTIAL},
                      "TRN301")
    assert found["main.py"] == []

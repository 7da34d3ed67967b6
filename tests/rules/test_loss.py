"""TRN301/TRN302 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

from rules._helpers import final_names
from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom torch.nn import CrossEntropyLoss as CE\n"

CASES = {
    "softmax_alias.py": HEAD + """
crit = CE()
p = model(x).softmax(dim=-1)
loss = crit(p, y)
""",
    # The loss is named only in the import that renames it.
    "softmax_functional_alias.py": "from torch.nn.functional import cross_entropy as xent\n" + """
p = model(x).softmax(dim=-1)
loss = xent(p, y)
""",
    "sequential_softmax.py": HEAD + """
clf = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3), nn.Softmax(dim=1))
loss = F.cross_entropy(clf(x), y)
""",
    "class_forward_softmax.py": HEAD + """
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=-1))

    def forward(self, x):
        return self.layers(x)

class Trainer:
    def __init__(self):
        self.net = Head()
        self.criterion = nn.CrossEntropyLoss()

    def step(self, x, y):
        out = self.net(x)
        return self.criterion(out, y)
""",
    "log_softmax_ok.py": HEAD + """
crit = nn.CrossEntropyLoss()
logp = F.log_softmax(model(x), dim=1)
loss = crit(logp, y)
""",
    "softmax_for_metrics_ok.py": HEAD + """
class Head(nn.Module):
    def forward(self, x):
        logits = self.fc(x)
        if self.training:
            return logits
        return F.softmax(logits, dim=-1)

net = Head()
loss = nn.CrossEntropyLoss()(net(x), y)
confidence = torch.softmax(net(x), 1).max(1).values
""",
    "sigmoid_forward.py": HEAD + """
class CTR(nn.Module):
    def forward(self, x):
        return torch.sigmoid(self.fc(x)).squeeze(-1)

def train(model, loader, opt):
    bce = nn.BCEWithLogitsLoss()
    for x, y in loader:
        p = model(x)
        loss = bce(p, y.float())
""",
    "sigmoid_inline.py": HEAD + """
loss = F.binary_cross_entropy_with_logits(logits.sigmoid(), target)
""",
    "sigmoid_ok.py": HEAD + """
loss_fn = nn.BCEWithLogitsLoss()
logits = model(x)
loss = loss_fn(logits, y)
plain = nn.BCELoss()(torch.sigmoid(logits), y)
""",
    # The softmax is a module attribute; the model reaches the loss as a parameter,
    # or handed to a trainer's __init__.
    "softmax_module_param.py": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.out = nn.Softmax(dim=1)

    def forward(self, x):
        return self.out(self.fc(x))


def train(net, loader, opt):
    crit = nn.CrossEntropyLoss()
    for x, y in loader:
        opt.zero_grad()
        crit(net(x), y).backward()
        opt.step()


class Trainer:
    def __init__(self, model, opt):
        self.model, self.opt = model, opt
        self.loss_fn = nn.CrossEntropyLoss()

    def step(self, x, y):
        self.opt.zero_grad()
        self.loss_fn(self.model(x), y).backward()
        self.opt.step()
""",
    # The loss is computed before the name is rebound to the sigmoid (a focal-style loss).
    "sigmoid_after_loss_ok.py": HEAD + """
class QFocal(nn.Module):
    def __init__(self):
        super().__init__()
        self.loss_fcn = nn.BCEWithLogitsLoss(reduction="none")

    def forward(self, pred, true):
        loss = self.loss_fcn(pred, true)
        pred = torch.sigmoid(pred)
        return (loss * (pred - true).abs()).mean()
""",
}

EXPECTED = {
    "softmax_alias.py": [("TRN301", 8)],
    "sequential_softmax.py": [("TRN301", 7)],
    "softmax_functional_alias.py": [("TRN301", 4)],
    "class_forward_softmax.py": [("TRN301", 21)],
    "log_softmax_ok.py": [],
    "softmax_module_param.py": [("TRN301", 20), ("TRN301", 31)],
    "sigmoid_after_loss_ok.py": [],
    "softmax_for_metrics_ok.py": [],
    "sigmoid_forward.py": [("TRN302", 14)],
    "sigmoid_inline.py": [("TRN302", 6)],
    "sigmoid_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss"), CASES, "TRN301,TRN302")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_layer(found):
    assert "nn.Softmax" in found["sequential_softmax.py"][0]["message"]
    assert "CTR" in found["sigmoid_forward.py"][0]["message"]


def test_final_names_are_the_words_a_file_must_contain():
    assert final_names("torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss", "torch.nn.NLLLoss") \
        == ("CrossEntropyLoss", "NLLLoss", "cross_entropy")

"""TRN301/TRN302/TRN303 on a model composed from modules given to its constructor
(`Combined(Backbone(), SoftmaxHead())` whose forward returns `self.head(...)`): the last
activation is the head's, read from the argument at the construction that reaches the loss,
in the same file or for a class of another module (YXNTU/GeneralDyG's `CombinedModel(GNN,
transformer)`). Through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_PARTS = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)

    def forward(self, x):
        return torch.relu(self.fc(x))


class SoftmaxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


class LogitsHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(x)


class LogSoftmaxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)


class SigmoidHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        out = self.fc(x)
        out = self.sigmoid(out).squeeze()
        return out
"""

_COMBINED = """
import torch


class Combined(torch.nn.Module):
    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x):
        h = self.encoder(x)
        out = self.head(h)
        return out


class EvalSoftmax(torch.nn.Module):
    def __init__(self, encoder, head):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x):
        out = self.head(self.encoder(x))
        if not self.training:
            out = torch.softmax(out, dim=1)
        return out
"""

CASES = {
    # Bugs (same file): a softmax head given positionally and by keyword; the logits head given
    # to a third instance of the same class stays silent (every caller does not agree).
    "same_file.py": _PARTS + _COMBINED.replace("import torch\n", "", 1) + """

model = Combined(Backbone(), SoftmaxHead())
keyed = Combined(encoder=Backbone(), head=SoftmaxHead())
plain = Combined(Backbone(), LogitsHead())
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
    criterion(keyed(x), y).backward()
    criterion(plain(x), y).backward()
""",
    # Look-alike: the loss inside the combiner's own method sees every instance; one is
    # given logits, so no construction decides (silent).
    "own_step.py": _PARTS + """

class Stepper(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x):
        return self.head(x)

    def step(self, x, y):
        return F.cross_entropy(self(x), y)


a = Stepper(SoftmaxHead())
b = Stepper(LogitsHead())
""",
    "pkg/__init__.py": "",
    "pkg/parts.py": _PARTS,
    "pkg/combine.py": _COMBINED,
    # Bug (GeneralDyG's shape): the combiner and the heads in other modules, the head bound
    # to a name first, the model moved under another name.
    "train_sigmoid.py": """
import torch.nn.functional as F
from pkg.combine import Combined
from pkg.parts import Backbone, SigmoidHead


def main(loader):
    encoder = Backbone()
    head = SigmoidHead()
    backbone = Combined(encoder, head)
    model = backbone.to("cuda")
    for x, y in loader:
        model.train()
        logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, y.float())
        loss.backward()
""",
    "train_softmax_keyword.py": """
import torch.nn as nn
from pkg.combine import Combined
from pkg.parts import Backbone, SoftmaxHead

model = Combined(Backbone(), head=SoftmaxHead())
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
""",
    # Look-alikes: a logits head; a log_softmax head with NLLLoss; a combiner that applies
    # its own softmax only in eval mode, trained with CrossEntropyLoss.
    "train_logits.py": """
import torch.nn as nn
from pkg.combine import Combined
from pkg.parts import Backbone, LogitsHead

model = Combined(Backbone(), head=LogitsHead())
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x), y).backward()
""",
    "train_log_softmax.py": """
import torch.nn as nn
from pkg.combine import Combined
from pkg.parts import Backbone, LogSoftmaxHead

model = Combined(Backbone(), LogSoftmaxHead())
criterion = nn.NLLLoss()
for x, y in loader:
    criterion(model(x), y).backward()
""",
    "train_eval_softmax.py": """
import torch.nn as nn
from pkg.combine import EvalSoftmax
from pkg.parts import Backbone, LogitsHead

model = EvalSoftmax(Backbone(), LogitsHead())
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    model.train()
    criterion(model(x), y).backward()
""",
}

EXPECTED = {
    "same_file.py": [("TRN301", 85), ("TRN301", 86)],
    "own_step.py": [],
    "pkg/__init__.py": [],
    "pkg/parts.py": [],
    "pkg/combine.py": [],
    "train_sigmoid.py": [("TRN302", 14)],
    "train_softmax_keyword.py": [("TRN301", 8)],
    "train_logits.py": [],
    "train_log_softmax.py": [],
    "train_eval_softmax.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_composed"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

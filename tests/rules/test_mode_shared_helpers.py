"""TRN101/TRN102 through a helper shared by training and evaluation: `compute_loss(model,
batch)` runs the model it is handed and returns the loss, and leaves mode and autograd to
its caller. The training loop and the validation loop both call it, so only the call says
which one runs: the validation call is the evaluation, reported there. Each bug beside
its look-alikes, through the real command. Also evaluation written as a comprehension over
the validation loader (`sum(model(x)... for x, y in val_loader)`), directly or through the
helper."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODEL = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))
"""

LOOP = """
import torch
from model import Net

{helper}

model = Net()
opt = torch.optim.Adam(model.parameters())
for epoch in range(10):
    model.train()
    for batch in train_loader:
        loss = {call}
        opt.zero_grad()
        loss.backward()
        opt.step()
    {before}
    val_loss = 0.0
    {context}
        for batch in val_loader:
            val_loss += {call}.item()
    print(val_loss)
"""

SHARED = """
def compute_loss(m, batch):
    x, y = batch
    return torch.nn.functional.cross_entropy(m(x), y)
"""

# Chooses the mode itself from its flag: the helper decides, not the call.
SWITCHING = """
def compute_loss(m, batch, train=True):
    m.train(train)
    x, y = batch
    return torch.nn.functional.cross_entropy(m(x), y)
"""

# Runs its forward with autograd off by itself.
GRAD_FREE = """
@torch.no_grad()
def compute_loss(m, batch):
    x, y = batch
    return torch.nn.functional.cross_entropy(m(x), y)
"""


def _loop(helper: str = SHARED, before: str = "pass", context: str = "with torch.no_grad():",
          call: str = "compute_loss(model, batch)") -> str:
    return LOOP.format(helper=helper, before=before, context=context, call=call)


CASES = {
    "model.py": MODEL,
    # Bug (TRN101): validated straight after the training epoch, still in training mode.
    "val_in_train_mode.py": _loop(),
    # Bug (TRN102): in eval mode, but the validation loop records a graph.
    "val_with_autograd.py": _loop(before="model.eval()", context="if True:"),
    # Look-alike: eval mode and no_grad before the validation calls.
    "val_done_right.py": _loop(before="model.eval()"),
    # Look-alike: the helper sets the mode from its flag (the validation call passes False).
    "helper_switches.py": _loop(helper=SWITCHING, call="compute_loss(model, batch, train=False)")
    .replace("loss = compute_loss(model, batch, train=False)", "loss = compute_loss(model, batch)"),
    # Look-alike: the helper is decorated with no_grad (never a training helper; not reported
    # at the call for autograd).
    "helper_grad_free.py": _loop(helper=GRAD_FREE, before="model.eval()", context="if True:"),
}

COMPREHENSION = """
import torch
from model import Net

model = Net()
opt = torch.optim.Adam(model.parameters())
for epoch in range(10):
    model.train()
    for x, y in train_loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    {before}
    {context}
        correct = sum((model(xv).argmax(1) == yv).sum().item() for xv, yv in val_loader)
    print(correct)
"""

CASES.update({
    # Bug (TRN101): the generator over the validation loader runs the model in training mode.
    "comprehension_in_train_mode.py": COMPREHENSION.format(before="pass", context="with torch.no_grad():"),
    # Bug (TRN102): in eval mode, with autograd on.
    "comprehension_with_autograd.py": COMPREHENSION.format(before="model.eval()", context="if True:"),
    # Look-alike: eval mode and no_grad.
    "comprehension_done_right.py": COMPREHENSION.format(before="model.eval()", context="with torch.no_grad():"),
    # Bug (TRN101): the shared helper inside a generator over the validation loader.
    "helper_in_generator.py": _loop().replace(
        "for batch in val_loader:\n            val_loss += compute_loss(model, batch).item()",
        "val_loss = sum(compute_loss(model, b).item() for b in val_loader)"),
    # Look-alike: a comprehension that only collects the training batches.
    "comprehension_over_training_data.py": COMPREHENSION.format(before="pass", context="if True:").replace(
        "correct = sum((model(xv).argmax(1) == yv).sum().item() for xv, yv in val_loader)",
        "batches = [b for b in train_loader]"),
})

# The shared helper in another module of the project (read through its summary).
CASES.update({
    "project/utils/__init__.py": "",
    "project/utils/train_utils.py": "import torch\n" + SHARED,
    "project/train_bug.py": _loop(helper="from utils.train_utils import compute_loss"),
    "project/train_ok.py": _loop(helper="from utils.train_utils import compute_loss", before="model.eval()"),
})

EXPECTED = {
    "model.py": [],
    "val_in_train_mode.py": [("TRN101", 23)],
    "val_with_autograd.py": [("TRN102", 23)],
    "val_done_right.py": [],
    "helper_switches.py": [],
    "helper_grad_free.py": [],
    "comprehension_in_train_mode.py": [("TRN101", 15)],
    "comprehension_with_autograd.py": [("TRN102", 15)],
    "comprehension_done_right.py": [],
    "helper_in_generator.py": [("TRN101", 22)],
    "comprehension_over_training_data.py": [],
    "project/utils/__init__.py": [],
    "project/utils/train_utils.py": [],
    "project/train_bug.py": [("TRN101", 19)],
    "project/train_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("shared_helpers"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shared_training_and_evaluation_helper(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_reported_at_the_validation_call(found):
    finding, = found["val_in_train_mode.py"]
    assert "over `val_loader` (val data)" in finding["message"] and finding["severity"] == "error"

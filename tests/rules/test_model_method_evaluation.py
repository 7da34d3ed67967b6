"""TRN204 when the evaluation runs the model through a method of its class rather than its
call (`scores = model.score(x)`, `model.test(x)`, `agent.act(obs)`): a public method of the
model's class that runs its layers and returns what they compute is a forward pass of the
model, as `model(x)` is, whether the class is in the file or in another module of the
project. Bug: such a pass over the test loader each epoch decides the checkpoint.
Look-alikes: the same pass over a validation loader, and over the test loader once after
training. Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

MODEL = """
import torch.nn as nn


class Flow(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(4, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.score(x).mean()

    def score(self, x):
        h, _ = self.rnn(x)
        return self.head(h)
"""

LOOP = """
import torch
from flow_model import Flow


def run(train_loader, val_loader, test_loader, epochs):
    model = Flow()
    optimizer = torch.optim.Adam(model.parameters())
    best = 0.0
    for epoch in range(epochs):
        model.train()
        for x, _ in train_loader:
            optimizer.zero_grad()
            loss = -model(x)
            loss.backward()
            optimizer.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for x, _ in {loop_data}:
                total += model.score(x).sum().item()
        if total > best:
            best = total
            torch.save(model.state_dict(), "best.pt")
    {after}
"""

ONCE_AFTER = """with torch.no_grad():
        final = sum(model.score(x).sum().item() for x, _ in test_loader)
    print(final)"""

CASES = {
    # Bug (a normalising-flow anomaly detector): the test loader's scores decide the checkpoint.
    "bug/flow_model.py": MODEL,
    "bug/main.py": LOOP.format(loop_data="test_loader", after="return best"),
    # Look-alike: the same method over the validation loader, the test loader scored once after.
    "ok/flow_model.py": MODEL,
    "ok/main.py": LOOP.format(loop_data="val_loader", after=ONCE_AFTER),
    # Bug, one file: the class is defined next to the loop.
    "same_file.py": MODEL + LOOP.replace("from flow_model import Flow\n", "").format(
        loop_data="test_loader", after="return best"),
}


def test_model_method_over_test_data_in_loop(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    bug_line = LOOP.lstrip("\n").splitlines().index("                total += model.score(x).sum().item()") + 1
    assert codes_lines(found["bug/main.py"]) == [("TRN204", bug_line)]
    assert [f["severity"] for f in found["bug/main.py"]] == ["error"]
    same_offset = MODEL.lstrip("\n").count("\n") + 1  # the class, then the loop without its import
    assert codes_lines(found["same_file.py"]) == [("TRN204", same_offset + bug_line - 1)]


def test_model_method_over_validation_or_after_training(tmp_path):
    found = run_cases(tmp_path, CASES, "TRN204")
    assert found["ok/main.py"] == []
    assert found["ok/flow_model.py"] == [] and found["bug/flow_model.py"] == []

"""TRN403 when the loop hands its model to a loss object built from a class of another
module of the run (session 18, found by dropping `zero_grad()` from a real trainer), through
the real command.

`loss = self.loss(batch, self.encoder)` with `self.loss = losses.triplet.TripletLoss(...)`:
an unknown call handed the model may clear its gradients, so the rule stayed silent; the
class is read from the project summary, and one whose code never clears cannot.
Look-alikes: the loop clearing itself; a loss class that clears the encoder's gradients
(`encoder.zero_grad()` in its forward); a class the run does not define (a library's).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

LOSS = """
import torch


class TripletLoss(torch.nn.modules.loss._Loss):
    def __init__(self, margin):
        super().__init__()
        self.margin = margin

    def forward(self, batch, encoder):
        {clear}
        anchor = encoder(batch)
        return torch.relu(self.margin - anchor.pow(2).mean())
"""

TRAINER = """
import torch
import {loss_module}


class Wrapper:
    def __init__(self, encoder):
        self.encoder = encoder
        self.loss = {loss_module}.TripletLoss(1.0)
        self.optimizer = torch.optim.Adam(self.encoder.parameters(), lr=1e-3)

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            for batch in loader:
                {clear}
                loss = self.loss(batch, self.encoder)
                loss.backward()
                self.optimizer.step()
        return self.encoder
"""


def _project(folder: str, loop_clear: str, loss_clear: str) -> dict:
    return {f"{folder}/losses/__init__.py": "",
            f"{folder}/losses/triplet.py": LOSS.format(clear=loss_clear),
            f"{folder}/wrappers.py": TRAINER.format(loss_module="losses.triplet", clear=loop_clear)}


CASES = {
    **_project("never_cleared", "pass", "pass"),
    **_project("loop_clears", "self.optimizer.zero_grad()", "pass"),
    **_project("loss_clears", "pass", "encoder.zero_grad()"),
    "library_loss/wrappers.py": TRAINER.format(loss_module="pytorch_metric_learning", clear="pass"),
}

EXPECTED = {name: [] for name in CASES}
EXPECTED["never_cleared/wrappers.py"] = [("TRN403", 17)]


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("zero_grad_project_objects"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(CASES))
def test_project_loss_objects(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

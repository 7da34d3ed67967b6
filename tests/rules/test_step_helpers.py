"""TRN403 for a step helper whose backward sits in another helper of the file
(`train_step` calls `self.forward_backward(batch)`, which back-propagates on every call)
and a recipe class built on another module's trainer that clears its optimizer once, before
the step loop. Fix-commit shape of meta-pytorch/torchforge f55a207. Look-alikes: the same
recipe clearing after every step, one that never clears (the base class's hooks may), and a
helper whose backward runs only under a flag. Through the real command."""

from __future__ import annotations

from tests.rules._cases import check_cases, codes

RECIPE = """
import torch
from engine import Engine


class Recipe(Engine):
    def forward_backward(self, batch, labels):
        loss = self.loss_fn(self.model(batch), labels)
{backward}        return loss

    def train_step(self, batch):
        labels = batch.pop("labels")
        loss = self.forward_backward(batch, labels)
        self.optimizers.step()
{after_step}        self.lr_schedulers.step()

    def train(self):
        batches = iter(self.train_dataloader)
{before_loop}        while self.current_step < self.num_training_steps:
            self.train_step(next(batches))
            self.current_step += 1
"""

PLAIN = "        loss.backward()\n"
GATED = "        if self.do_backward:\n            loss.backward()\n"
CLEAR_ONCE = "        self.optimizers.zero_grad()\n"
CLEAR_EACH = "        self.optimizers.zero_grad()\n"


def test_step_helpers(tmp_path):
    found = check_cases(tmp_path, {
        "bug": RECIPE.format(backward=PLAIN, after_step="", before_loop=CLEAR_ONCE),
        "fixed": RECIPE.format(backward=PLAIN, after_step=CLEAR_EACH, before_loop=CLEAR_ONCE),
        "hooks": RECIPE.format(backward=PLAIN, after_step="", before_loop=""),
        "gated": RECIPE.format(backward=GATED, after_step="", before_loop=CLEAR_ONCE),
    }, "TRN403")
    assert codes(found["bug"]) == ["TRN403"] and found["bug"][0]["line"] == 21
    assert found["fixed"] == [] and found["hooks"] == [] and found["gated"] == []

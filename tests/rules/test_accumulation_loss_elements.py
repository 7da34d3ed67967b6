"""TRN401 where the loss is an element of what a call returned, or a weighted sum (session 18,
found by dropping `loss = loss / k` from real accumulation loops), through the real command.

- `loss, *_ = self._calc(...)` with `return (loss, *outputs[1:])`: the places before a star
  are fixed, on either side;
- `lm_loss, mc_loss = outputs[:2]`: the elements of a leading slice of a model's output;
- `lm_loss * args.lm_coef + mc_loss * args.mc_coef`: each term is a plain loss times a weight
  read from configuration, none is the window's division.
Look-alikes: the same loops dividing by the window, a weight bound here to `1 / k`, a helper
returning the divided loss, and a starred target before the loss (its place is unknown).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

LOOP = """
import torch


def train(model, loader, optimizer, args):
    {before}
    for step, batch in enumerate(loader):
        {loss}
        {divide}
        loss.backward()
        if (step + 1) % args.gradient_accumulation_steps == 0:
            optimizer.step()
            model.zero_grad()
"""

HELPER = """
import torch


class Runner:
    def _calc(self, model, inputs):
        outputs = model(**inputs)
        loss = outputs[0]{divided}
        return (loss, *outputs[1:])

    def train(self, model, loader, optimizer, args):
        for step, batch in enumerate(loader):
            {target} = self._calc(model, batch)
            loss.backward()
            if (step + 1) % args.gradient_accumulation_steps == 0:
                optimizer.step()
                model.zero_grad()
"""

WEIGHTED = "lm_loss, mc_loss = model(batch)\n        loss = lm_loss * args.lm_coef + mc_loss * args.mc_coef"
SLICED = "outputs = model(batch)\n        lm_loss, mc_loss = outputs[:2]\n        loss = lm_loss + mc_loss"
DIVIDE = "loss = loss / args.gradient_accumulation_steps"

CASES = {
    "weighted_terms_bad.py": LOOP.format(before="pass", loss=WEIGHTED, divide=""),
    "weighted_terms_divided_ok.py": LOOP.format(before="pass", loss=WEIGHTED, divide=DIVIDE),
    "weights_reciprocal_ok.py": LOOP.format(
        before="w = 1.0 / args.gradient_accumulation_steps",
        loss="lm_loss, mc_loss = model(batch)\n        loss = lm_loss * w + mc_loss * w", divide=""),
    "sliced_outputs_bad.py": LOOP.format(before="pass", loss=SLICED, divide=""),
    "sliced_outputs_divided_ok.py": LOOP.format(before="pass", loss=SLICED, divide=DIVIDE),
    "starred_return_bad.py": HELPER.format(divided="", target="loss, *_"),
    "starred_return_divided_ok.py": HELPER.format(divided=" / self.k", target="loss, *_"),
    "starred_target_first_unknown_ok.py": HELPER.format(divided="", target="*_, loss"),
}

EXPECTED = {
    "weighted_terms_bad.py": [("TRN401", 10)],
    "weighted_terms_divided_ok.py": [],
    "weights_reciprocal_ok.py": [],
    "sliced_outputs_bad.py": [("TRN401", 11)],
    "sliced_outputs_divided_ok.py": [],
    "starred_return_bad.py": [("TRN401", 13)],
    "starred_return_divided_ok.py": [],
    "starred_target_first_unknown_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("accumulation_loss_elements"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(CASES))
def test_loss_elements(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

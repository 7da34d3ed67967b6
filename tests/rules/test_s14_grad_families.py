"""Families read in fresh dev repositories (session 14, gradient rules), each with the bug the
rule must find and the correct look-alike it must leave alone. Through the real command.

- TRN401: the loss is an element of what the model returned, `model(**inputs)[0]` or
  `outputs = model(**inputs); loss = outputs[0]` (Hugging Face models before `.loss`), maybe
  refreshed by `loss = loss.mean()` for DataParallel: undivided unless divided by the window.
  The adversarial (FGM) loss back-propagated beside a divided clean loss is one of them.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

_HF_ELEMENT = """
import torch


def train(args, model, loader, optimizer):
    for step, batch in enumerate(loader):
        {loss}
        if args.n_gpu > 1:
            loss = loss.mean()
        {divide}
        loss.backward()
        if (step + 1) % args.gradient_accumulation_steps == 0:
            optimizer.step()
            model.zero_grad()
"""

_FGM = """
import torch


def train(args, model, loader, optimizer, fgm):
    for step, batch in enumerate(loader):
        loss = model(**batch)[0]
        if args.gradient_accumulation_steps > 1:
            loss = loss / args.gradient_accumulation_steps
        loss.backward()
        if args.do_adv:
            fgm.attack()
            loss_adv = model(**batch)[0]
            if args.n_gpu > 1:
                loss_adv = loss_adv.mean()
            {divide_adv}
            loss_adv.backward()
            fgm.restore()
        if (step + 1) % args.gradient_accumulation_steps == 0:
            optimizer.step()
            model.zero_grad()
"""

_LIST_ELEMENT = """
import torch


def train(args, model, loader, optimizer):
    for step, batch in enumerate(loader):
        losses = [model(x) for x in batch]
        loss = losses[0]
        loss.backward()
        if (step + 1) % args.gradient_accumulation_steps == 0:
            optimizer.step()
            model.zero_grad()
"""

CASES = {
    "hf_outputs_element_unscaled.py": _HF_ELEMENT.format(
        loss="outputs = model(**batch)\n        loss = outputs[0]", divide="pass"),
    "hf_call_element_unscaled.py": _HF_ELEMENT.format(loss="loss = model(**batch)[0]", divide="pass"),
    "hf_outputs_element_divided_ok.py": _HF_ELEMENT.format(
        loss="outputs = model(**batch)\n        loss = outputs[0]",
        divide="loss = loss / args.gradient_accumulation_steps"),
    "fgm_adversarial_unscaled.py": _FGM.format(divide_adv="pass"),
    "fgm_adversarial_divided_ok.py": _FGM.format(
        divide_adv="loss_adv = loss_adv / args.gradient_accumulation_steps"),
    "list_element_not_judged_ok.py": _LIST_ELEMENT,
}

EXPECTED = {
    "hf_outputs_element_unscaled.py": [("TRN401", 11)],
    "hf_call_element_unscaled.py": [("TRN401", 10)],
    "hf_outputs_element_divided_ok.py": [],
    "fgm_adversarial_unscaled.py": [("TRN401", 16)],
    "fgm_adversarial_divided_ok.py": [],
    "list_element_not_judged_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_grad"), CASES, "TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

"""Families read in fresh dev repositories (session 14, gradient rules), each with the bug the
rule must find and the correct look-alike it must leave alone. Through the real command.

- TRN401: the loss is an element of what the model returned, `model(**inputs)[0]` or
  `outputs = model(**inputs); loss = outputs[0]` (Hugging Face models before `.loss`), maybe
  refreshed by `loss = loss.mean()` for DataParallel: undivided unless divided by the window.
  The adversarial (FGM) loss back-propagated beside a divided clean loss is one of them.
- TRN401/TRN402: the window gated by a guard that leaves the iteration,
  `if (i + 1) % k != 0: continue` before the step (or `return` in a per-micro-batch method):
  an undivided loss is found, a divided one is not; a `zero_grad()` before the guard runs on
  every micro-batch, one after it only with the step; `if batch is None: continue` gates
  data, not a window.
- TRN403: a step on every iteration whose gradients are cleared only under a test on the
  iteration count (`zero_grad()` indented into the logging block); a clear at the start of
  each accumulation window (the step gated too), or one in both branches, is not that.
- TRN102: an evaluation step method reached only through receivers nobody can type, every
  call of its name under `torch.no_grad()`: a task helper built by a registry in another
  module (`self.helper.eval_step(batch)`), or a dict of lambdas handing back a method
  (`STEPS[kind](self)(batch)`). It runs without autograd; one call of the name with autograd
  on (a `predict` without `no_grad`) keeps the finding.
- TRN102: one report per evaluation loop, the innermost around the forward pass: sampling
  from one model in an inner loop and reranking with another after it are two findings, and
  so are a validation loop and a test loop inside one epoch loop; models chained in one loop
  (an encoder feeding a decoder) stay one finding.
- TRN102 (the model's roles): a parameter whose name says nothing (`net_g`, `f`) is a model
  when the function calls a method only a module has on it (`net_g.eval()`,
  `.parameters()`): its evaluation loop is found. `scorer.eval(expr)`, with an argument,
  is no module's.
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

_HELPER = """
import torch


class Helper:
    def __init__(self, wrapper):
        self.wrapper = wrapper

    def {name}(self, batch):
        logits = self.wrapper.model(batch["x"])
        return logits.argmax(-1)
"""

_REGISTRY = """
from {pkg}.helpers import Helper

HELPERS = {{"a": Helper}}
"""

_RUNNER = """
import torch
from {pkg}.registry import HELPERS


class Runner:
    def __init__(self, model, task):
        self.model = model
        self.helper = HELPERS[task](self)

    def evaluate(self, loader):
        self.model.eval()
        preds = []
        for batch in loader:
            with torch.no_grad():
                preds.append(self.helper.{name}(batch))
        return preds

    def predict(self, batch):
        {predict}
"""

_DISPATCH = """
import torch

STEPS = {{
    "mlm": lambda w: w.{name}_mlm,
    "cls": lambda w: w.{name}_cls,
}}


class Wrapper:
    def __init__(self, model, kind):
        self.model = model
        self.kind = kind

    def {name}_mlm(self, batch):
        return self.model(batch["x"])

    def {name}_cls(self, batch):
        return self.model(batch["x"])[0]

    def evaluate(self, loader):
        self.model.eval()
        out = []
        for batch in loader:
            {context}
                out.append(STEPS[self.kind](self)(batch))
        return out
"""

_RERANK = """
import torch
from transformers import GPT2LMHeadModel


def main(prompts):
    generator = GPT2LMHeadModel.from_pretrained("g")
    scorer = GPT2LMHeadModel.from_pretrained("s")
    generator.eval()
    scorer.eval()
    for ids in prompts:
        {context}
            for _ in range(20):
                logits = generator(input_ids=ids).logits
                ids = torch.cat([ids, logits[:, -1:].argmax(-1)], dim=-1)
            score = scorer(input_ids=ids, labels=ids)[0].item()
        print(score)
"""

_EPOCH_BLOCKS = """
import torch


def train(model, train_loader, val_loader, test_loader, optimizer, criterion, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        {context}
            correct = 0
            for x, y in val_loader:
                correct += (model(x).argmax(1) == y).sum().item()
            print("val", correct)
            correct = 0
            for x, y in test_loader:
                correct += (model(x).argmax(1) == y).sum().item()
            print("test", correct)
"""

_CHAINED = """
import torch


def evaluate(encoder, decoder, loader):
    encoder.eval()
    decoder.eval()
    total = 0
    for x, y in loader:
        memory = encoder(x)
        total += (decoder(memory).argmax(-1) == y).sum().item()
    return total
"""

_UNNAMED_MODEL = """
import torch
from torch.utils.data import DataLoader


def test_img(net_g, datatest, bs):
    net_g.eval()
    correct = 0
    {context}
        for data, target in DataLoader(datatest, batch_size=bs):
            log_probs = net_g(data)
            correct += (log_probs.argmax(1) == target).sum().item()
    return correct
"""

_EVALUATOR_OBJECT = """
def score_all(scorer, exprs):
    total = 0
    for e in exprs:
        scorer.eval(e)
        total += scorer(e)
    return total
"""

_GUARDED = """
import torch
import torch.nn.functional as F


def train(model, loader, optimizer, accum):
    model.train()
    optimizer.zero_grad()
    for i, batch in enumerate(loader):
        {clear_before}
        logits = model(batch[0])
        loss = F.cross_entropy(logits, batch[1]){divide}
        loss.backward()
        if (i + 1) % accum != 0:
            continue
        optimizer.step()
        {clear_after}
"""

_GUARDED_METHOD = """
import torch
import torch.nn.functional as F


class Stepper:
    def __init__(self, model, optimizer, accum):
        self.model, self.optimizer, self.accum = model, optimizer, accum
        self.count = 0

    def update(self, batch):
        loss = F.cross_entropy(self.model(batch[0]), batch[1]){divide}
        loss.backward()
        self.count += 1
        if self.count % self.accum != 0:
            return False
        self.optimizer.step()
        self.optimizer.zero_grad()
        return True
"""

_DATA_GUARD = """
import torch
import torch.nn.functional as F


def train(model, loader, optimizer):
    model.train()
    for i, batch in enumerate(loader):
        if batch is None:
            continue
        optimizer.zero_grad()
        loss = F.cross_entropy(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
"""

_PERIODIC_CLEAR = """
import torch


def train(model, loader, optimizer, criterion, epochs, log_every=100):
    for epoch in range(epochs):
        for i, (x, y) in enumerate(loader):
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            if i % log_every == 0:
                print(loss.item())
                optimizer.zero_grad()
            {other}
    return model
"""

_WINDOW_START_CLEAR = """
import torch


def train(model, loader, optimizer, criterion, accum):
    for i, (x, y) in enumerate(loader):
        if i % accum == 0:
            optimizer.zero_grad()
        loss = criterion(model(x), y) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            optimizer.step()
    return model
"""

CASES = {
    "periodic_clear_bug.py": _PERIODIC_CLEAR.format(other="pass"),
    "periodic_and_else_clear_ok.py": _PERIODIC_CLEAR.format(other="else:\n                optimizer.zero_grad()"),
    "window_start_clear_ok.py": _WINDOW_START_CLEAR,
    "guarded_unscaled.py": _GUARDED.format(clear_before="pass", divide="", clear_after="optimizer.zero_grad()"),
    "guarded_divided_ok.py": _GUARDED.format(clear_before="pass", divide=" / accum",
                                             clear_after="optimizer.zero_grad()"),
    "guarded_clear_every_micro_batch.py": _GUARDED.format(clear_before="optimizer.zero_grad()", divide=" / accum",
                                                          clear_after="pass"),
    "guarded_method_unscaled.py": _GUARDED_METHOD.format(divide=""),
    "guarded_method_divided_ok.py": _GUARDED_METHOD.format(divide=" / self.accum"),
    "data_guard_ok.py": _DATA_GUARD,
    "unnamed_model_bug.py": _UNNAMED_MODEL.format(context="if True:"),
    "unnamed_model_ok.py": _UNNAMED_MODEL.format(context="with torch.no_grad():"),
    "evaluator_object_ok.py": _EVALUATOR_OBJECT,
    "epoch_blocks_bug.py": _EPOCH_BLOCKS.format(context="if True:"),
    "epoch_blocks_ok.py": _EPOCH_BLOCKS.format(context="with torch.no_grad():"),
    "chained_models_bug.py": _CHAINED,
    "helper_ok/helpers.py": _HELPER.format(name="eval_step_a"),
    "helper_ok/registry.py": _REGISTRY.format(pkg="helper_ok"),
    "helper_ok/runner.py": _RUNNER.format(pkg="helper_ok", name="eval_step_a", predict="return None"),
    "helper_bug/helpers.py": _HELPER.format(name="eval_step_b"),
    "helper_bug/registry.py": _REGISTRY.format(pkg="helper_bug"),
    "helper_bug/runner.py": _RUNNER.format(pkg="helper_bug", name="eval_step_b",
                                           predict="return self.helper.eval_step_b(batch)"),
    "dispatch_ok.py": _DISPATCH.format(name="eval_step_c", context="with torch.no_grad():"),
    "dispatch_bug.py": _DISPATCH.format(name="eval_step_d", context="if True:"),
    "rerank_bug.py": _RERANK.format(context="if True:"),
    "rerank_ok.py": _RERANK.format(context="with torch.no_grad():"),
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
    "periodic_clear_bug.py": [("TRN403", 9)],
    "periodic_and_else_clear_ok.py": [],
    "window_start_clear_ok.py": [],
    "guarded_unscaled.py": [("TRN401", 12)],
    "guarded_divided_ok.py": [],
    "guarded_clear_every_micro_batch.py": [("TRN402", 9)],
    "guarded_method_unscaled.py": [("TRN401", 12)],
    "guarded_method_divided_ok.py": [],
    "data_guard_ok.py": [],
    "unnamed_model_bug.py": [("TRN102", 10)],
    "unnamed_model_ok.py": [],
    "evaluator_object_ok.py": [],
    "epoch_blocks_bug.py": [("TRN102", 16), ("TRN102", 20)],
    "epoch_blocks_ok.py": [],
    "chained_models_bug.py": [("TRN102", 9)],
    "helper_ok/helpers.py": [],
    "helper_ok/runner.py": [],
    "helper_bug/helpers.py": [("TRN102", 9)],
    "helper_bug/runner.py": [],
    "dispatch_ok.py": [],
    "dispatch_bug.py": [("TRN102", 15), ("TRN102", 18)],
    "rerank_bug.py": [("TRN102", 13), ("TRN102", 15)],
    "rerank_ok.py": [],
    "hf_outputs_element_unscaled.py": [("TRN401", 11)],
    "hf_call_element_unscaled.py": [("TRN401", 10)],
    "hf_outputs_element_divided_ok.py": [],
    "fgm_adversarial_unscaled.py": [("TRN401", 16)],
    "fgm_adversarial_divided_ok.py": [],
    "list_element_not_judged_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("s14_grad"), CASES, "TRN101,TRN102,TRN401,TRN402,TRN403")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

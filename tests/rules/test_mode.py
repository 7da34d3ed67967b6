"""TRN101-TRN103 through the real command: bugs and correct look-alikes."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\n\n"

CASES = {
    # A fresh model is in training mode; test predictions under no_grad only.
    "fresh_model_eval.py": HEAD + """
net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for step in range(100):
    net.train()
    opt.zero_grad()
    net(x_tr).sum().backward()
    opt.step()
with torch.no_grad():
    preds = net(x_te).argmax(1)
""",
    "fresh_model_eval_ok.py": HEAD + """
net = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.3), nn.Linear(8, 2))
net.train(False)
with torch.no_grad():
    preds = net(x_te).argmax(1)
""",
    # The helper does not switch mode; its only caller leaves the model in training mode.
    "caller_mode.py": HEAD + """
@torch.inference_mode()
def run_validation(model, batches):
    return [model(xb) for xb, _ in batches]

def fit(model, train_batches, dev_batches, opt):
    for epoch in range(5):
        model.train()
        for xb, yb in train_batches:
            opt.zero_grad()
            model(xb).mean().backward()
            opt.step()
        run_validation(model, dev_batches)
""",
    "caller_mode_ok.py": HEAD + """
@torch.inference_mode()
def run_validation(model, batches):
    return [model(xb) for xb, _ in batches]

def fit(model, train_batches, dev_batches, opt):
    for epoch in range(5):
        model.train()
        for xb, yb in train_batches:
            opt.zero_grad()
            model(xb).mean().backward()
            opt.step()
        model.eval()
        run_validation(model, dev_batches)
""",
    # Grad mode: eval() alone is not enough.
    "no_grad_missing.py": HEAD + """
def evaluate(model, holdout_loader):
    model.eval()
    hits = 0
    for xb, yb in holdout_loader:
        hits += (model(xb).argmax(1) == yb).sum().item()
    return hits
""",
    "no_grad_decorator_ok.py": HEAD + """
@torch.no_grad()
def evaluate(model, holdout_loader):
    model.eval()
    return [model(xb) for xb, yb in holdout_loader]
""",
    "set_grad_enabled_ok.py": HEAD + """
def evaluate(model, holdout_loader):
    model.eval()
    with torch.set_grad_enabled(False):
        for xb, yb in holdout_loader:
            model(xb)
""",
    # Phase loop: mode switched per phase only for training.
    "phase_loop_bad.py": HEAD + """
def fit(model, loaders, opt, crit):
    for epoch in range(3):
        for phase in ("train", "val"):
            if phase == "train":
                model.train()
            with torch.set_grad_enabled(phase == "train"):
                for xb, yb in loaders[phase]:
                    out = model(xb)
                    loss = crit(out, yb)
                    if phase == "train":
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
""",
    "phase_loop_ok.py": HEAD + """
def fit(model, loaders, opt, crit):
    for epoch in range(3):
        for stage in ["train", "valid"]:
            training = stage == "train"
            model.train(training)
            with torch.set_grad_enabled(training):
                for xb, yb in loaders[stage]:
                    loss = crit(model(xb), yb)
                    if training:
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
""",
    # TRN103: a helper switches to eval and the next epoch trains in eval mode.
    "helper_leaves_eval.py": HEAD + """
def snapshot(model, sample):
    model.eval()
    with torch.no_grad():
        return model(sample)

def fit(model, loader, opt, crit, sample):
    model.train()
    for epoch in range(10):
        for xb, yb in loader:
            opt.zero_grad()
            crit(model(xb), yb).backward()
            opt.step()
        snapshot(model, sample)
""",
    "helper_restores_ok.py": HEAD + """
def snapshot(model, sample):
    model.eval()
    with torch.no_grad():
        out = model(sample)
    model.train()
    return out

def fit(model, loader, opt, crit, sample):
    model.train()
    for epoch in range(10):
        for xb, yb in loader:
            opt.zero_grad()
            crit(model(xb), yb).backward()
            opt.step()
        snapshot(model, sample)
""",
    "inline_eval_end_of_epoch.py": HEAD + """
def fit(model, train_dl, valid_dl, opt, crit):
    model.train()
    for epoch in range(10):
        for xb, yb in train_dl:
            opt.zero_grad()
            crit(model(xb), yb).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            for xb, yb in valid_dl:
                model(xb)
""",
    # Lightning runs validation/test steps in eval mode without grad.
    "lightning_ok.py": """
import torch.nn.functional as F
import lightning.pytorch as pl

class Classifier(pl.LightningModule):
    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_acc", (self(x).argmax(1) == y).float().mean())
""",
    # A helper imported from another file of the same run.
    "pkg/__init__.py": "",
    "pkg/engine.py": """
import torch

@torch.no_grad()
def evaluate(model, loader):
    return [model(x) for x, _ in loader]

@torch.no_grad()
def evaluate_ok(model, loader):
    return [model(x) for x, _ in loader]
""",
    "pkg/train.py": """
import torch
from .engine import evaluate, evaluate_ok

def fit(model, train_loader, val_loader, opt):
    for epoch in range(3):
        model.train()
        for x, y in train_loader:
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        evaluate(model, val_loader)
        model.eval()
        evaluate_ok(model, val_loader)
""",
    # A project's own wrapper of inference_mode, named for what it does; an unrelated
    # decorator proves nothing.
    "project_grad_wrapper.py": HEAD + """
from utils import smart_inference_mode, timed

@smart_inference_mode()
def run_val(model, val_loader):
    model.eval()
    return [model(x) for x, _ in val_loader]

@timed
def run_val_timed(model, val_loader):
    model.eval()
    return [model(x) for x, _ in val_loader]
""",
    # Real-world look-alikes (docs/real-world.md): the adjective `valid` is not the validation
    # split, tokenizers are not models, a method named `_test_model` is not a model.
    "valid_adjective_ok.py": HEAD + """
net = nn.Linear(4, 2)
net.eval()
out = net(X, valid_lens_x)
text_valid = text != pad_id
feats = net(text_valid)
""",
    "valid_split_bad.py": HEAD + """
net = nn.Linear(4, 2)
net.eval()
out = net(X_valid)

def score(net, valid_loader):
    return [net(x) for x in valid_loader]
""",
    "tokenizer_ok.py": HEAD + """
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("gpt2")
model = AutoModelForCausalLM.from_pretrained("gpt2")

def predict(prompt):
    inputs = tokenizer(prompt, return_tensors="pt")
    return model.generate(**inputs)

class Checker:
    def check_inference(self, model):
        encoded = self.tokenizer(self.text, return_tensors="pt")
        return model.generate(**encoded)
""",
    "tokenizer_bad.py": HEAD + """
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("gpt2")
model = AutoModelForCausalLM.from_pretrained("gpt2")

def predict(prompt):
    inputs = tokenizer(prompt, return_tensors="pt")
    return model(**inputs)
""",
    "method_not_model_ok.py": HEAD + """
class ExportCheck:
    def _test_model(self, model, inputs):
        model.eval()
        with torch.no_grad():
            return model(*inputs)

    def test_export(self):
        return self._test_model(build_model(cfg), inputs)
""",
    "attribute_model_bad.py": HEAD + """
class ExportCheck:
    def __init__(self, cfg):
        self.test_model = build_model(cfg)

    def test_export(self, inputs):
        return self.test_model(inputs)
""",
    # A frozen backbone kept in eval mode while the optimizer trains only a linear head;
    # its twin gives the optimizer the backbone too, so eval mode there is a bug.
    "frozen_backbone_ok.py": HEAD + """
def train(backbone, head, optimizer, loader):
    head.train()
    for x, y in loader:
        with torch.no_grad():
            feats = backbone(x)
        loss = nn.functional.cross_entropy(head(feats), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def main(loader):
    backbone = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1))
    backbone.eval()
    head = nn.Linear(8, 2)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    for epoch in range(3):
        train(backbone, head, optimizer, loader)
""",
    "finetuned_backbone_bad.py": HEAD + """
def train(backbone, head, optimizer, loader):
    head.train()
    for x, y in loader:
        feats = backbone(x)
        loss = nn.functional.cross_entropy(head(feats), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

def main(loader):
    backbone = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1))
    backbone.eval()
    head = nn.Linear(8, 2)
    optimizer = torch.optim.SGD([{"params": backbone.parameters()}, {"params": head.parameters()}])
    for epoch in range(3):
        train(backbone, head, optimizer, loader)
""",
    # `net.eval()` under `isinstance(net, nn.Module)`: the other path has no module to switch.
    "isinstance_module_guard_ok.py": HEAD + """
def evaluate_accuracy(net, data_iter):
    if isinstance(net, nn.Module):
        net.eval()
    with torch.no_grad():
        return [net(X) for X, y in data_iter]

def fit(net, train_iter, test_iter, opt):
    for epoch in range(3):
        net.train()
        for X, y in train_iter:
            opt.zero_grad()
            net(X).sum().backward()
            opt.step()
        evaluate_accuracy(net, test_iter)
""",
    "other_guard_bad.py": HEAD + """
def evaluate_accuracy(net, data_iter, verbose):
    if verbose:
        net.eval()
    with torch.no_grad():
        return [net(X) for X, y in data_iter]

def fit(net, train_iter, test_iter, opt):
    for epoch in range(3):
        net.train()
        for X, y in train_iter:
            opt.zero_grad()
            net(X).sum().backward()
            opt.step()
        evaluate_accuracy(net, test_iter, False)
""",
    # A trainer class: the mode set by one method on self.model reaches another method.
    "trainer_methods.py": HEAD + """
class Trainer:
    def __init__(self, model, opt, train_dl, valid_dl):
        self.model, self.opt, self.train_dl, self.valid_dl = model, opt, train_dl, valid_dl

    def train_epoch(self):
        self.model.train()
        for xb, yb in self.train_dl:
            self.opt.zero_grad()
            self.model(xb).sum().backward()
            self.opt.step()

    @torch.no_grad()
    def validate(self):
        return [self.model(xb) for xb, _ in self.valid_dl]

    def fit(self, epochs):
        for _ in range(epochs):
            self.train_epoch()
            print(self.validate())
""",
    "trainer_methods_ok.py": HEAD + """
class Trainer:
    def __init__(self, model, opt, train_dl, valid_dl):
        self.model, self.opt, self.train_dl, self.valid_dl = model, opt, train_dl, valid_dl

    def train_epoch(self):
        self.model.train()
        for xb, yb in self.train_dl:
            self.opt.zero_grad()
            self.model(xb).sum().backward()
            self.opt.step()

    @torch.no_grad()
    def validate(self):
        return [self.model(xb) for xb, _ in self.valid_dl]

    def fit(self, epochs):
        for _ in range(epochs):
            self.train_epoch()
            self.model.eval()
            print(self.validate())
""",
}

# One evaluation forward pass that both rules of the pass flag (they share its analysis).
CASES["train_mode_and_grad_bad.py"] = HEAD + """
def evaluate(model, val_loader):
    model.train()
    for x, y in val_loader:
        model(x)
"""

EXPECTED = {
    "train_mode_and_grad_bad.py": [("TRN101", 8), ("TRN102", 8)],
    "fresh_model_eval.py": [("TRN101", 13)],
    "fresh_model_eval_ok.py": [],
    "caller_mode.py": [("TRN101", 7)],
    "caller_mode_ok.py": [],
    "no_grad_missing.py": [("TRN102", 9)],
    "no_grad_decorator_ok.py": [],
    "set_grad_enabled_ok.py": [],
    "phase_loop_bad.py": [("TRN101", 12)],
    "phase_loop_ok.py": [],
    "helper_leaves_eval.py": [("TRN103", 16)],
    "helper_restores_ok.py": [],
    "inline_eval_end_of_epoch.py": [("TRN103", 11)],
    "lightning_ok.py": [],
    "pkg/__init__.py": [],
    "pkg/engine.py": [("TRN101", 5)],
    "pkg/train.py": [],
    "project_grad_wrapper.py": [("TRN102", 15)],
    "trainer_methods.py": [("TRN101", 18)],
    "trainer_methods_ok.py": [],
    "valid_adjective_ok.py": [],
    "valid_split_bad.py": [("TRN102", 7), ("TRN102", 10)],
    "tokenizer_ok.py": [],
    "tokenizer_bad.py": [("TRN102", 12)],
    "method_not_model_ok.py": [],
    "attribute_model_bad.py": [("TRN102", 10)],
    "frozen_backbone_ok.py": [],
    "isinstance_module_guard_ok.py": [],
    "other_guard_bad.py": [("TRN101", 9)],
    "finetuned_backbone_bad.py": [("TRN103", 12)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_messages_name_the_model_and_the_fix(found):
    message = found["fresh_model_eval.py"][0]["message"]
    assert "`net`" in message and "x_te" in message and "net.eval()" in message
    assert "no_grad" in found["no_grad_missing.py"][0]["message"]
    assert "`model`" in found["helper_leaves_eval.py"][0]["message"]

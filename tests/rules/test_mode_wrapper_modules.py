"""TRN103 through a wrapper object of another module: `model.py` defines a plain class
holding two encoders, with `train_start()`/`val_start()` switching them and `train_emb()`
stepping its own optimizer; `train.py` hands the object to `train(model, ...)` and
`validate(model, ...)` as a parameter. A validation every few hundred iterations through
`model.val_start()` leaves the encoders in eval mode for the rest of the epoch, and
`model.train_emb(...)` trains them so. Look-alikes: the validation switches back, the loop
switches to training every iteration, or the training method switches itself."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

WRAPPER = """
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 10)
        self.bn = nn.BatchNorm1d(10)

    def forward(self, x):
        return self.bn(self.fc(x))


class Pair(object):
    def __init__(self):
        self.img_enc = Encoder()
        self.txt_enc = Encoder()
        params = list(self.img_enc.parameters()) + list(self.txt_enc.parameters())
        self.optimizer = torch.optim.Adam(params)

    def train_start(self):
        self.img_enc.train()
        self.txt_enc.train()

    def val_start(self):
        self.img_enc.eval()
        self.txt_enc.eval()

    def forward_emb(self, images, captions):
        return self.img_enc(images), self.txt_enc(captions)

    def train_emb(self, images, captions):
        {guard}
        img, cap = self.forward_emb(images, captions)
        loss = ((img - cap) ** 2).sum()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
"""

TRAIN = """
import torch

from wrapper import Pair


def validate(val_loader, model):
    model.val_start()
    embs = [model.forward_emb(images, captions) for images, captions in val_loader]
    {restore}
    return embs


def train(train_loader, model, val_loader):
    model.train_start()
    for i, (images, captions) in enumerate(train_loader):
        {switch}
        model.train_emb(images, captions)
        if i % 500 == 0:
            validate(val_loader, model)


def main(train_loader, val_loader):
    model = Pair()
    for epoch in range(30):
        train(train_loader, model, val_loader)
"""

STEP_LINE = TRAIN.splitlines().index("        model.train_emb(images, captions)")


def _project(name: str, guard: str = "pass", restore: str = "pass", switch: str = "pass") -> dict:
    return {f"{name}/wrapper.py": WRAPPER.format(guard=guard),
            f"{name}/train.py": TRAIN.format(restore=restore, switch=switch)}


def test_wrapper_of_another_module(tmp_path):
    # One run per project: the run reads a method by its name over every module it holds.
    found = run_cases(tmp_path / "bug", _project("bug"), "TRN103")
    assert codes_lines(found["bug/train.py"]) == [("TRN103", STEP_LINE)]
    assert codes_lines(found["bug/wrapper.py"]) == []
    for name, change in (("restored", {"restore": "model.train_start()"}),
                         ("every_step", {"switch": "model.train_start()"}),
                         ("self_guarded", {"guard": "self.train_start()"})):
        found = run_cases(tmp_path / name, _project(name, **change), "TRN103")
        assert codes_lines(found[f"{name}/train.py"] + found[f"{name}/wrapper.py"]) == [], name


# A wrapper whose own `eval()` switches its net, and whose `step()` reaches backward and the
# optimizer step through helper methods; a runner (no torch import) validating every few
# steps through `self.model.eval()`.
MODEL_WRAPPER = """
import torch
import torch.nn as nn


class Model(object):
    def __init__(self, net):
        self.net = net
        self.optimizer = torch.optim.SGD(net.parameters(), lr=0.1)

    def eval(self):
        self.net.eval()

    def optimize(self, loss):
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()

    def step(self, batch):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        {guard}
        self.optimize(loss)
        return loss
"""

RUNNER = """
from wrapper import Model


class Runner(object):
    def __init__(self, model, data):
        self.model = model
        self.data = data

    def test(self):
        self.model.eval()
        return [self.model.net(x) for x, _ in self.data.val]

    def train(self):
        for i, batch in enumerate(self.data.train):
            self.model.step(batch)
            if i % 100 == 0:
                self.test()
"""


def test_runner_without_torch_stepping_a_wrapper(tmp_path):
    step_line = RUNNER.splitlines().index("            self.model.step(batch)")
    found = run_cases(tmp_path / "bug", {"r/wrapper.py": MODEL_WRAPPER.format(guard="pass"), "r/runner.py": RUNNER},
                      "TRN103")
    assert codes_lines(found["r/runner.py"]) == [("TRN103", step_line)]
    found = run_cases(tmp_path / "ok", {"r/wrapper.py": MODEL_WRAPPER.format(guard="self.net.train()"),
                                        "r/runner.py": RUNNER}, "TRN103")
    assert codes_lines(found["r/runner.py"] + found["r/wrapper.py"]) == []

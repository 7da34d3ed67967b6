"""TRN301/302 blind spots found by planting a softmax or sigmoid at the end of real models'
`forward` (session 18, benchmarks/mutations): a model defined in a module that uses a
`match` statement (its summary used to crash, so no other module knew the model), and a
loss called through `.forward(...)`. Each with its correct look-alike, through the real
command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

SELECT = "TRN301,TRN302"

# The model's module builds its layers from a config with a `match` statement (and holds an
# `if`, which makes the summary look for deciding parameters, where the walk crashed).
MATCH_MODELS = """
import torch


class FCN(torch.nn.Module):
    def __init__(self, layers=()):
        super().__init__()
        built = []
        if not layers:
            layers = ["relu"]
        for kind in layers:
            match kind:
                case "relu":
                    built.append(torch.nn.ReLU())
                case _:
                    built.append(torch.nn.Linear(8, 8))
        built.append(torch.nn.Linear(8, 3))
        self.layers = torch.nn.Sequential(*built)

    def forward(self, x):
        return {end}
"""

MATCH_TRAIN = """
import torch
from models import FCN


def run_epoch(model, loader, loss_fn, optimizer):
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()


def train_model(model, loader, epochs=3):
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters())
    for _ in range(epochs):
        run_epoch(model, loader, loss_fn, optimizer)


if __name__ == "__main__":
    train_model(FCN(layers=["relu"]), [])
"""


@pytest.mark.parametrize("end, expected", [("self.layers(x).softmax(dim=-1)", [("TRN301", 8)]),
                                           ("self.layers(x)", [])])
def test_a_model_of_a_module_with_a_match_statement(tmp_path, end, expected):
    found = run_cases(tmp_path, {"models.py": MATCH_MODELS.format(end=end), "train.py": MATCH_TRAIN}, SELECT)
    assert codes_lines(found["train.py"]) == expected
    assert found["models.py"] == []


# The loss module called through its forward method, as the model is.
FORWARD_CALLED = """
import torch


class LogisticRegression(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.linear = torch.nn.Linear(n, 1)

    def forward(self, x):
        return {end}


def train(loader, n):
    model = LogisticRegression(n)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in loader:
        optimizer.zero_grad()
        y_pred = model.forward(x)
        loss = loss_fn.forward(y_pred, y)
        loss.backward()
        optimizer.step()
"""


@pytest.mark.parametrize("end, expected", [("self.linear(x).sigmoid()", [("TRN302", 20)]),
                                           ("self.linear(x)", [])])
def test_a_loss_called_through_its_forward(tmp_path, end, expected):
    found = run_cases(tmp_path, {"train.py": FORWARD_CALLED.format(end=end)}, SELECT)
    assert codes_lines(found["train.py"]) == expected


# A model factory that imports only the project's model classes: it names no framework and no
# training word, and the prefilter used to skip it, so the trainer never learnt what it builds.
FACTORY_NETS = """
import torch.nn as nn
import torch.nn.functional as F


class UNet(nn.Module):
    def __init__(self, classes=2):
        super().__init__()
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        return {end}
"""

FACTORY = """
from nets import UNet


def build_model(model_name, num_classes):
    if model_name == "unet":
        return UNet(classes=num_classes)
    return UNet(classes=2)
"""

FACTORY_TRAIN = """
import torch.nn as nn
from builder import build_model


def main(args):
    model = build_model(args.model, 3)
    criterion = nn.CrossEntropyLoss()
    for x, y in []:
        loss = criterion(model(x), y)
        loss.backward()
"""


@pytest.mark.parametrize("end, expected", [("F.softmax(self.fc(x), dim=1)", [("TRN301", 9)]),
                                           ("self.fc(x)", [])])
def test_a_model_built_by_a_factory_module_that_imports_no_framework(tmp_path, end, expected):
    found = run_cases(tmp_path, {"nets.py": FACTORY_NETS.format(end=end), "builder.py": FACTORY,
                                 "train.py": FACTORY_TRAIN}, SELECT)
    assert codes_lines(found["train.py"]) == expected
    assert found["builder.py"] == [] and found["nets.py"] == []


# One training loop shared by two scripts, each with its own model; both pass the same loss.
SHARED_LOOP = """
def train(loader, model, criterion, optimizer):
    model.train()
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""

SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from utils import train


class {name}(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return {end}


def main(resume=None):
    if resume is None:
        model = {name}()
    else:
        checkpoint = torch.load(resume)
        model = checkpoint["model"]
    model = model.to("cuda")
    train([], model, {loss}, torch.optim.SGD(model.parameters(), lr=0.1))
"""


def _scripts(cnn_end: str, cnn_loss: str = "nn.CrossEntropyLoss()") -> dict:
    return {"utils.py": SHARED_LOOP,
            "cnn.py": SCRIPT.format(name="CNN", end=cnn_end, loss=cnn_loss),
            "rnn.py": SCRIPT.format(name="RNN", end="self.fc(x)", loss="nn.CrossEntropyLoss()")}


@pytest.mark.parametrize("cnn_end, cnn_loss, expected", [
    # One caller's fresh run (no checkpoint) trains a softmax model with the shared loss.
    ("F.softmax(self.fc(x), dim=1)", "nn.CrossEntropyLoss()", [("TRN301", 4)]),
    # Both models return logits.
    ("self.fc(x)", "nn.CrossEntropyLoss()", []),
    # The softmax model's caller pairs it with another loss: which loss meets which model is
    # the callers' business, and they disagree on the loss.
    ("F.log_softmax(self.fc(x), dim=1)", "nn.NLLLoss()", []),
])
def test_a_shared_loop_one_of_whose_callers_hands_it_a_softmax_model(tmp_path, cnn_end, cnn_loss, expected):
    found = run_cases(tmp_path, _scripts(cnn_end, cnn_loss), SELECT)
    assert codes_lines(found["utils.py"]) == expected
    assert found["cnn.py"] == [] and found["rnn.py"] == []


RESUMED_HERE = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return {end}


def main(loader, resume=None):
    if resume is None:
        model = Net()
    else:
        model = torch.load(resume)["model"]
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()
"""


@pytest.mark.parametrize("end, expected", [("self.fc(x).softmax(dim=-1)", [("TRN301", 21)]),
                                           ("self.fc(x)", [])])
def test_a_model_built_afresh_or_resumed_from_a_checkpoint(tmp_path, end, expected):
    found = run_cases(tmp_path, {"train.py": RESUMED_HERE.format(end=end)}, SELECT)
    assert codes_lines(found["train.py"]) == expected


# A fine-tuner whose model is replaced by what a pruning helper of another module hands back
# (the model it was given, layers swapped inside): still the model built for the run.
PRUNE = """
import torch.nn as nn


def prune_layer(model, index):
    model.features[index] = nn.Identity()
    return model
"""

FINETUNE = """
import torch
import torch.nn as nn
from prune import *


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.classifier = nn.Linear(4, 3)

    def forward(self, x):
        return {end}


class FineTuner:
    def __init__(self, model):
        self.model = model
        self.criterion = nn.CrossEntropyLoss()

    def prune(self):
        model = self.model.cpu()
        model = prune_layer(model, 0)
        self.model = model

    def train_batch(self, x, y):
        self.criterion(self.model(x), y).backward()


def main(args):
    model = Net()
    tuner = FineTuner(model)
    tuner.prune()
    tuner.train_batch(args.x, args.y)
"""


@pytest.mark.parametrize("end, expected", [("self.classifier(self.features(x)).softmax(dim=-1)", [("TRN301", 27)]),
                                           ("self.classifier(self.features(x))", [])])
def test_a_model_replaced_by_what_a_helper_hands_back(tmp_path, end, expected):
    found = run_cases(tmp_path, {"prune.py": PRUNE, "finetune.py": FINETUNE.format(end=end)}, SELECT)
    assert codes_lines(found["finetune.py"]) == expected

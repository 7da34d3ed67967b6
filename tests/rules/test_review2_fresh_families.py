"""Families behind the false alarms of a precision review on fresh repositories (session 13),
each with the bug the rule must keep and the correct look-alike it must leave alone. Through
the real command.

- TRN201: a statistic of a value named like a split word (`max_val`, the maximum value)
  rescales the data it was taken from; the statistic's name does not make that data a
  validation split (a clip scaled by its own peak), while statistics of real test data stay
  reported;
- TRN101/TRN102: a LightningModule's shared step helper (`_shared_eval_step`) called from
  `training_step` whose loss Lightning back-propagates is a training step, not an evaluation;
  the same helper name called only from a plain loop in training mode stays reported;
- TRN102: a plain wrapper class whose `__call__` reads its input only as numpy (an ONNX Runtime
  session) runs no torch module; a plain wrapper that hands the tensor to a torch module does.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

LEAK_CASES = {
    # Look-alike: each audio window is scaled by its own peak, held in `max_val`.
    "peak_normalised_clip_ok.py": """
import numpy as np


def features(buffer):
    raw_audio = np.array(buffer, dtype=np.float32)
    max_val = np.max(np.abs(raw_audio))
    if max_val > 0:
        raw_audio = raw_audio / max_val
    return raw_audio
""",
    # Look-alike: a helper scales its argument by its own peak; the only caller passes a
    # window that was itself scaled through a `max_val` statistic.
    "peak_helper_ok.py": """
import numpy as np


def normalise(y):
    if np.max(np.abs(y)) > 1.0:
        y = y / np.max(np.abs(y))
    return y


def run(buffer):
    raw_audio = np.array(buffer, dtype=np.float32)
    max_val = np.max(np.abs(raw_audio))
    raw_audio = raw_audio / max_val
    return normalise(raw_audio)
""",
    # Bug: the test split is scaled by its own maximum (held in a name with no split word).
    "test_split_own_peak_bad.py": """
import numpy as np
from sklearn.model_selection import train_test_split

X_train, X_test, y_train, y_test = train_test_split(X, y)
peak = np.max(np.abs(X_test))
X_test = X_test / peak
""",
    # Bug: the validation split's maximum, named `max_val`, rescales the validation data.
    "val_split_max_val_bad.py": """
import numpy as np
from sklearn.model_selection import train_test_split

X_train, X_val, y_train, y_val = train_test_split(X, y)
max_val = np.max(np.abs(X_val))
X_val = X_val / max_val
""",
}

LEAK_EXPECTED = {
    "peak_normalised_clip_ok.py": [],
    "peak_helper_ok.py": [],
    "test_split_own_peak_bad.py": [("TRN201", 5)],
    "val_split_max_val_bad.py": [("TRN201", 5)],
}

_LIGHTNING_CLASS = """
import torch
import torch.nn as nn
import pytorch_lightning as pl


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1), nn.Sigmoid())
        self.loss = nn.BCELoss()

    def forward(self, x):
        return self.layers(x)

    def training_step(self, batch, batch_idx):
        loss, acc = self._shared_eval_step(batch, batch_idx)
        self.log_dict({"acc": acc, "loss": loss})
        return {"acc": acc, "loss": loss}

    def validation_step(self, batch, batch_idx):
        loss, acc = self._shared_eval_step(batch, batch_idx)
        self.log_dict({"val_acc": acc, "val_loss": loss})

    def _shared_eval_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x).squeeze()
        loss = self.loss(y_hat, y)
        acc = ((y_hat > 0.5) == y).float().mean()
        return loss, acc

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)
"""

MODE_CASES = {
    # Look-alike: Lightning back-propagates training_step's loss; validation runs in eval/no_grad.
    "lightning_shared_eval_step_ok.py": _LIGHTNING_CLASS,
    # Bug: an evaluation helper called after training, model still in training mode and
    # autograd on.
    "plain_eval_step_after_training_bad.py": """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)


def _shared_eval_step(batch):
    x, y = batch
    return ((model(x) > 0) == y).float().mean().item()


for epoch in range(3):
    model.train()
    for x, y in train_loader:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    print(sum(_shared_eval_step(b) for b in val_loader))
""",
}

_EVAL_LOOP = """

def test(path, loader):
    model = {cls}(path)
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""

MODE_CASES["onnx_wrapper_ok.py"] = """
import onnxruntime as ort
import torch


class OnnxModel:
    def __init__(self, path):
        self.session = ort.InferenceSession(path)

    def eval(self):
        pass

    def __call__(self, x):
        out = self.session.run(None, {"input": x.cpu().numpy()})[0]
        return torch.from_numpy(out)
""" + _EVAL_LOOP.format(cls="OnnxModel")

MODE_CASES["torch_wrapper_bad.py"] = """
import torch
import torch.nn as nn


class Predictor:
    def __init__(self, path):
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        self.net.load_state_dict(torch.load(path))

    def __call__(self, x):
        print(x.cpu().numpy().shape)
        return self.net(x)
""" + _EVAL_LOOP.format(cls="Predictor")

MODE_EXPECTED = {
    "onnx_wrapper_ok.py": [],
    "torch_wrapper_bad.py": [("TRN102", 19)],
    "lightning_shared_eval_step_ok.py": [],
    "plain_eval_step_after_training_bad.py": [("TRN101", 10), ("TRN102", 10)],
}


@pytest.fixture(scope="module")
def leak_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review2_leak"), LEAK_CASES, "TRN201")


@pytest.fixture(scope="module")
def mode_found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review2_mode"), MODE_CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(LEAK_EXPECTED))
def test_statistic_named_like_a_split(leak_found, name):
    assert codes_lines(leak_found[name]) == LEAK_EXPECTED[name]


@pytest.mark.parametrize("name", sorted(MODE_EXPECTED))
def test_lightning_shared_step_helper(mode_found, name):
    assert codes_lines(mode_found[name]) == MODE_EXPECTED[name]

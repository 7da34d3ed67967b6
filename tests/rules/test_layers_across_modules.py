"""TRN101 reads a model's layers through the project's modules, however deep: a model class of
the training script built from an encoder class of another module, itself built from a block
class of a third module (`nn.ModuleList([Block(d) for _ in range(n)])`). When every layer is
visible and none is dropout or batch norm, evaluating in training mode changes nothing (info,
"harmless"); when the block two modules away holds a dropout, the finding is the error that
names it. Layers of a library class stay unknown (the error without a named layer). Through
the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import run_cases

BLOCK = """
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d)
{extra}
    def forward(self, x):
        return x + {out}
"""
PLAIN_BLOCK = BLOCK.format(extra="", out="self.fc(self.norm(x))")
DROPOUT_BLOCK = BLOCK.format(extra="        self.drop = nn.Dropout(0.1)\n", out="self.drop(self.fc(self.norm(x)))")

ENCODER = """
import torch.nn as nn
from blocks import Block


class Encoder(nn.Module):
    def __init__(self, d, n):
        super().__init__()
        self.embed = nn.Embedding(100, d)
        self.layers = nn.ModuleList([Block(d) for _ in range(n)])

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        return x
"""

TRAIN = """
import torch
import torch.nn as nn
from encoder import Encoder


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder(16, 2)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.encoder(x)).mean(1)


model = Seq()
optimizer = torch.optim.Adam(model.parameters())
train_loader = torch.utils.data.DataLoader(range(10))
val_loader = torch.utils.data.DataLoader(range(10))
for epoch in range(3):
    for x, y in train_loader:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        for x, y in val_loader:
            print((model(x).argmax(1) == y).float().mean().item())
"""

CASES = {
    # Look-alike: LayerNorm, Linear and Embedding only, two modules away: harmless.
    "plain/blocks.py": PLAIN_BLOCK,
    "plain/encoder.py": ENCODER,
    "plain/train.py": TRAIN,
    # Bug: the block two modules away drops out.
    "dropout/blocks.py": DROPOUT_BLOCK,
    "dropout/encoder.py": ENCODER,
    "dropout/train.py": TRAIN,
    # Bug: the encoder itself is imported (one module away) and its block drops out.
    "direct/blocks.py": DROPOUT_BLOCK,
    "direct/encoder.py": ENCODER,
    "direct/train.py": TRAIN.replace("model = Seq()", "model = Encoder(16, 2)").replace(
        "print((model(x).argmax(1) == y)", "print((model(x).mean(1).argmax(1) == y)"),
    # Unknown: the block is a library's (not in the run), so the layers stay unknown.
    "library/encoder.py": ENCODER.replace("from blocks import Block", "from somelib.blocks import Block"),
    "library/train.py": TRAIN,
}

EVALUATION_LINE = 27  # `print((model(x).argmax(1) == y)...)` in the validation loop


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("layers_across"), CASES, "TRN101")


def test_layers_visible_through_two_modules_make_it_harmless(found):
    assert [(f["line"], f["severity"]) for f in found["plain/train.py"]] == [(EVALUATION_LINE, "info")]
    assert "harmless" in found["plain/train.py"][0]["message"]


@pytest.mark.parametrize("name", ["dropout/train.py", "direct/train.py"])
def test_a_dropout_two_modules_away_is_named(found, name):
    assert [(f["line"], f["severity"]) for f in found[name]] == [(EVALUATION_LINE, "error")]
    assert "nn.Dropout" in found[name][0]["message"]


def test_a_library_block_stays_unknown(found):
    assert [(f["line"], f["severity"]) for f in found["library/train.py"]] == [(EVALUATION_LINE, "error")]
    assert "if it has any" in found["library/train.py"][0]["message"]

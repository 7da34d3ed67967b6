"""TRN101 severity on networks whose norm layers ignore the mode, through the real command.

Image-translation generators (MUNIT and its re-implementations) normalise with instance
norm, a hand-written AdaIN calling `F.batch_norm(..., True, ...)` (batch statistics in both
modes) and a norm class picked by a conditional expression (`norm_layer = AdaIN if norm ==
"adain" else nn.InstanceNorm2d`). Sampling such a generator without `.eval()` computes the
same images in either mode: the finding is info, not error. The same network with a flag
that follows the mode (`self.training`) or a conditional that may pick batch norm is an error.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import run_cases

GENERATOR = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class AdaIN(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))
        self.weight = None
        self.bias = None

    def forward(self, x):
        b, c, h, w = x.size()
        out = F.batch_norm(x.view(1, b * c, h, w), self.running_mean.repeat(b), self.running_var.repeat(b),
                           self.weight, self.bias, {flag}, 0.1, 1e-5)
        return out.view(b, c, h, w)


class Block(nn.Module):
    def __init__(self, n, norm="in"):
        super().__init__()
        norm_layer = AdaIN if norm == "adain" else {other}
        self.body = nn.Sequential(nn.Conv2d(n, n, 3, padding=1), norm_layer(n), nn.ReLU())

    def forward(self, x):
        return x + self.body(x)


generator = Block(8, norm="adain")
optimizer = torch.optim.Adam(generator.parameters())
for step, (x, val_x) in enumerate(zip(train_images, val_images)):
    optimizer.zero_grad()
    generator(x).abs().mean().backward()
    optimizer.step()
    if step % 100 == 0:
        with torch.no_grad():
            sample = generator(val_x)
"""

CASES = {
    "adain_literal.py": GENERATOR.format(flag="True", other="nn.InstanceNorm2d"),
    "adain_follows_mode.py": GENERATOR.format(flag="self.training", other="nn.InstanceNorm2d"),
    "may_pick_batch_norm.py": GENERATOR.format(flag="True", other="nn.BatchNorm2d"),
}

EXPECTED = {
    "adain_literal.py": [("TRN101", 39, "info")],
    "adain_follows_mode.py": [("TRN101", 39, "error")],
    "may_pick_batch_norm.py": [("TRN101", 39, "error")],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_free_norms"), CASES, "TRN101")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_severity_follows_what_the_norms_do(found, name):
    assert sorted((f["code"], f["line"], f["severity"]) for f in found[name]) == EXPECTED[name]

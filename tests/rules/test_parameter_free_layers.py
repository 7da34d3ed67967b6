"""torch.nn layers without parameters are no model to evaluate (TRN101/TRN102), through the real command.

`up = nn.Upsample(size=(299, 299)).type(dtype)` resizes images before a pretrained network
scores them: running `up(x)` records no graph (no parameters, an input without one) and
behaves the same in both modes, so the finding belongs to the network's forward on the next
line, not to the resize. A dropout layer alone still depends on the mode.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

SCORE = """
import torch
import torch.nn as nn
from torchvision.models import inception_v3


def inception_score(val_loader, dtype=torch.FloatTensor):
    net = inception_v3(pretrained=True).type(dtype)
    net.eval()
    up = {layer}.type(dtype)
    scores = []
    for batch, _ in val_loader:
        x = up(batch)
        scores.append(net(x).softmax(1))
    return scores
"""

CASES = {
    "upsample.py": SCORE.format(layer="nn.Upsample(size=(299, 299), mode='bilinear')"),
    "pool.py": SCORE.format(layer="nn.AdaptiveAvgPool2d((299, 299))"),
}

EXPECTED = {
    "upsample.py": [("TRN102", 13)],
    "pool.py": [("TRN102", 13)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("parameter_free"), CASES, "TRN101,TRN102")


@pytest.mark.parametrize("name", sorted(CASES))
def test_parameter_free_layer(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

"""TRN101 on a model built by a builder that a function handed back and a variable holds.

Semi-supervised and benchmark code picks the network class by name (`_net_builder =
net_builder(args.net, ...)`, which returns a class or a constructor) and builds it later
(`net = _net_builder(num_classes=10)`). The result is a new module, in training mode, like any
constructor's, and the file treats it as one (it loads a state dict into it). Before, a call
of a local variable was nothing known: an evaluation script that forgot `net.eval()` went
unreported.

Look-alikes: the same script with `net.eval()`; a builder named as a loader (`load_builder`,
whose model may keep a saved mode); a variable holding a model instance, whose call is a
forward pass and whose output is not a module.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

SCRIPT = """
import torch
from utils import net_builder, load_builder, get_loader

if __name__ == "__main__":
    _builder = {factory}
    net = _builder(num_classes=10)
    net.load_state_dict(torch.load("best.pth"))
    {switch}
    acc = 0.0
    with torch.no_grad():
        for image, target in get_loader("test"):
            acc += net(image).max(1)[1].eq(target).sum().item()
    print(acc)
"""

BUILT = 'net_builder("wide_resnet", {"depth": 28})'

# A model instance held in a variable: calling it runs it, the output is no module.
INSTANCE = """
import torch
from utils import get_model, get_loader

model = get_model("wide_resnet")
model.load_state_dict(torch.load("best.pth"))
model.eval()
with torch.no_grad():
    for image, target in get_loader("test"):
        features = model(image)
        print(features.sum().item())
"""

CASES = {
    "bug.py": SCRIPT.replace("{factory}", BUILT).replace("{switch}", "pass"),
    "fixed.py": SCRIPT.replace("{factory}", BUILT).replace("{switch}", "net.eval()"),
    "loader.py": SCRIPT.replace("{factory}", 'load_builder("wide_resnet")').replace("{switch}", "pass"),
    "instance.py": INSTANCE,
}

EXPECTED = {
    "bug.py": [("TRN101", 12)],
    "fixed.py": [],
    "loader.py": [],
    "instance.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_held_builders"), CASES, "TRN101")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

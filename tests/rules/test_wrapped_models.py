"""TRN101 through a module class of the file that wraps the model a function was handed
(`featurizer = Featurizer(model)`, whose forward runs `self.model`): the wrapper is no
untrained model (its weights were handed in) and runs in the handed model's mode, its
layers not all visible. Fix-commit shape of LAION-AI/CLIP_benchmark 8d994cf (linear probe
features extracted through such a wrapper of a model nobody switched to eval).
Through the real command."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

WRAPPER = """
import torch
import torch.nn.functional as F
import torchvision


class Featurizer(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return F.normalize(self.model(x), dim=-1)


def extract(model, loader, device):
    featurizer = torch.nn.DataParallel(Featurizer(model).to(device))
    features = []
    with torch.no_grad():
        for images, _ in loader:
            features.append(featurizer(images.to(device)).cpu())
    torch.save(torch.cat(features), "features.pt")


def run(loader, device):
    model = torchvision.models.resnet50()
{switch}    extract(model, loader, device)
"""

SMOKE = """
import torch


class Net(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(4, n)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.fc(self.drop(x))


def shapes(n_classes):
    net = Net(n_classes)
    out = net(torch.randn(2, 4))
    print(out.shape)
"""


def test_wrapper_of_handed_model_in_training_mode(tmp_path):
    found = run_cases(tmp_path, {"bug.py": WRAPPER.format(switch="")}, "TRN101")
    [finding] = found["bug.py"]
    assert (finding["code"], finding["line"], finding["severity"]) == ("TRN101", 20, "error")


def test_wrapper_of_handed_model_in_eval_mode_and_smoke_test_stay_silent(tmp_path):
    found = run_cases(tmp_path, {"fixed.py": WRAPPER.format(switch="    model.eval()\n"), "smoke.py": SMOKE},
                      "TRN101")
    assert found["fixed.py"] == [] and found["smoke.py"] == []

"""TRN301/TRN302 on a pretrained classifier whose last layer is replaced in its slot: the
last element of a torchvision head that is an nn.Sequential (`vgg.classifier[6] = ...`,
`classifier[-1]`), and the head attribute of a timm model (`model.fc` / `model.head` /
`model.classifier` after `timm.create_model`), through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

CASES = {
    # Bugs: the replaced last layer ends in the activation the loss applies itself.
    "slots.py": """
import timm
import torch.nn as nn
import torchvision
from torchvision import models

def vgg(loader):
    model = models.vgg16(pretrained=True)
    model.classifier[6] = nn.Sequential(nn.Linear(4096, 5), nn.Softmax(dim=1))
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()

def mobilenet(loader):
    net = torchvision.models.mobilenet_v2(weights="DEFAULT")
    net.classifier[-1] = nn.Sequential(nn.Linear(1280, 1), nn.Sigmoid())
    bce = nn.BCEWithLogitsLoss()
    for x, y in loader:
        bce(net(x).squeeze(1), y).backward()

def timm_resnet(loader):
    model = timm.create_model("resnet50", pretrained=True)
    model.fc = nn.Sequential(nn.Linear(2048, 3), nn.Softmax(dim=1))
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()

def timm_vit(loader):
    model = timm.create_model("vit_base_patch16_224", pretrained=True)
    model.head = nn.Sequential(nn.Linear(768, 3), nn.Softmax(dim=-1))
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()

class Wrapped(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.net = models.vgg16(pretrained=True)
        self.net.classifier[6] = nn.Sequential(nn.Linear(4096, k), nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)

def build(k):
    model = models.alexnet(pretrained=True)
    model.classifier[6] = nn.Sequential(nn.Linear(4096, k), nn.Softmax(dim=1))
    return model

def wrapped(loader):
    criterion = nn.CrossEntropyLoss()
    a, b = Wrapped(3), build(3)
    for x, y in loader:
        criterion(a(x), y).backward()
        criterion(b(x), y).backward()
""",
    # Look-alikes: a Linear in the last slot; a softmax put in a slot that is not the last;
    # a timm head replaced by a Linear; a whole classifier replaced after the slot.
    "slots_ok.py": """
import timm
import torch.nn as nn
from torchvision import models

def vgg(loader):
    model = models.vgg16(pretrained=True)
    model.classifier[6] = nn.Linear(4096, 5)
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()

def vgg_middle(loader):
    model = models.vgg16(pretrained=True)
    model.classifier[3] = nn.Sequential(nn.Linear(4096, 4096), nn.Softmax(dim=1))
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()

def timm_plain(loader):
    model = timm.create_model("resnet50", pretrained=True)
    model.fc = nn.Linear(2048, 3)
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()

def replaced_again(loader):
    model = models.vgg16(pretrained=True)
    model.classifier[6] = nn.Sequential(nn.Linear(4096, 5), nn.Softmax(dim=1))
    model.classifier = nn.Linear(25088, 5)
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        criterion(model(x), y).backward()
""",
}

EXPECTED = {
    "slots.py": [("TRN301", 11), ("TRN301", 25), ("TRN301", 32), ("TRN301", 52), ("TRN301", 53), ("TRN302", 18)],
    "slots_ok.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("head_slots"), CASES, "TRN301,TRN302,TRN303")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_message_names_the_slot(found):
    first = min(found["slots.py"], key=lambda f: f["line"])
    assert "classifier[6]" in first["message"]

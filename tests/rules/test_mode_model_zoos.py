"""TRN101 on models built by third-party model libraries (`cnn_finetune.make_model`,
`segmentation_models_pytorch`, `efficientnet_pytorch`, `pretrainedmodels`, MONAI's nets,
`torchvision.models.get_model`): like a torchvision constructor they return a new module in
training mode, so a prediction function that builds one, loads a checkpoint and predicts
without `eval()` runs batch norm on the test batch (seen in a scene classifier's `predict()`).

Look-alikes: the same functions with `model.eval()` after the load, and a training function
of the same model that calls `model.train()` at its top after an evaluation set eval mode.
A `pretrainedmodels.utils` helper is no model.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

PREDICT = """
import torch
from cnn_finetune import make_model


def predict(arch, test_loader, device):
    model = make_model(arch, num_classes=20, pretrained=False)
    model.to(device)
    checkpoint = torch.load("best.pth")
    model.load_state_dict(checkpoint["state_dict"])
    preds = []
    with torch.no_grad():
        for sample in test_loader:
            x = sample["image"].to(device)
            output = model(x)
            preds.append(output.argmax(1))
    return preds
"""

PREDICT_EVAL = PREDICT.replace('model.load_state_dict(checkpoint["state_dict"])\n',
                               'model.load_state_dict(checkpoint["state_dict"])\n    model.eval()\n')

SEGMENT = """
import torch
import segmentation_models_pytorch as smp
from efficientnet_pytorch import EfficientNet
import pretrainedmodels

net = smp.Unet(encoder_name="resnet34", classes=2)
net.load_state_dict(torch.load("unet.pth"))
clf = EfficientNet.from_pretrained("efficientnet-b0", num_classes=4)
clf.load_state_dict(torch.load("clf.pth"))
backbone = pretrainedmodels.se_resnext50_32x4d(num_classes=1000, pretrained=None)
backbone.load_state_dict(torch.load("se.pth"))
with torch.no_grad():
    for image, mask in test_loader:
        pred_mask = net(image).argmax(1)
        label = clf(image).argmax(1)
        features = backbone(image)
        print(pred_mask.sum().item(), label.item(), features.mean().item())
"""

SEGMENT_EVAL = SEGMENT.replace("with torch.no_grad():", "net.eval()\nclf.eval()\nbackbone.eval()\nwith torch.no_grad():")

TRAIN = """
import torch
import torch.nn.functional as F
from monai.networks.nets import UNet


def train_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(F.cross_entropy(model(x), y).item() for x, y in loader)


def main(train_loader, val_loader):
    model = UNet(spatial_dims=2, in_channels=1, out_channels=2, channels=(4, 8), strides=(2,))
    optimizer = torch.optim.Adam(model.parameters())
    for epoch in range(10):
        train_epoch(model, train_loader, optimizer)
        print(validate(model, val_loader))
"""

NOT_A_MODEL = """
import torch
import pretrainedmodels.utils as putils

tf_img = putils.TransformImage(None)
with torch.no_grad():
    for image, label in test_loader:
        print(tf_img(image).mean().item())
"""

CASES = {
    "predict.py": PREDICT,
    "predict_eval.py": PREDICT_EVAL,
    "segment.py": SEGMENT,
    "segment_eval.py": SEGMENT_EVAL,
    "train.py": TRAIN,
    "transform.py": NOT_A_MODEL,
}

EXPECTED = {
    "predict.py": [("TRN101", 14)],
    "predict_eval.py": [],
    "segment.py": [("TRN101", 14), ("TRN101", 15), ("TRN101", 16)],
    "segment_eval.py": [],
    "train.py": [],
    "transform.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_model_zoos"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

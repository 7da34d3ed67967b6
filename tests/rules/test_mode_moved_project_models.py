"""TRN101 for a model built from another module's class and moved in the same statement
(`encoder = EncoderCNN(...).to(device)`) and handed to a validation function of a third
module that never calls `eval()` (a captioning project's mid-training BLEU check). Without
the move the caller's model was known to be fresh; with it, the first reading of the file
(before the project knows the class is a model) did not assume it, so the validation
function's entry did not know the mode.

Look-alikes: the same validation function calling `encoder.eval()` first, and the same
call with the model switched to eval by the caller (both switch back to train afterwards).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch.nn as nn


class EncoderCNN(nn.Module):
    def __init__(self, embed_size):
        super().__init__()
        self.linear = nn.Linear(64, embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)

    def forward(self, images):
        return self.bn(self.linear(images.flatten(1)))
"""

VALIDATE = """
import torch


def validate(encoder, val_images, val_labels):{switch}
    with torch.no_grad():
        features = encoder(val_images)
        return (features.argmax(1) == val_labels).float().mean().item()
"""

TRAIN = """
import torch
from models import EncoderCNN
from validate import validate

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def main(loader, val_images, val_labels):
    encoder = EncoderCNN(32).to(device)
    optimizer = torch.optim.Adam(encoder.parameters())
    for epoch in range(3):
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(encoder(images.to(device)), labels.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(){switch}
        print(validate(encoder, val_images, val_labels)){restore}
"""

CASES = {}
RESTORE = "\n        encoder.train()"
for case, in_validate, in_caller, restore in (("bug", "", "", ""),
                                              ("validate_eval", "\n    encoder.eval()", "", RESTORE),
                                              ("caller_eval", "", "\n        encoder.eval()", RESTORE)):
    CASES[f"{case}/models.py"] = MODELS
    CASES[f"{case}/validate.py"] = VALIDATE.replace("{switch}", in_validate)
    CASES[f"{case}/train.py"] = TRAIN.replace("{switch}", in_caller).replace("{restore}", restore)

EXPECTED = {
    "bug/validate.py": [("TRN101", 6)],
    "bug/train.py": [],
    "validate_eval/validate.py": [],
    "validate_eval/train.py": [],
    "caller_eval/validate.py": [],
    "caller_eval/train.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_moved_project_models"), CASES, "TRN101,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]

"""TRN501-TRN504 through the real command: the bugs, and the correct code that looks like them."""

from __future__ import annotations

import pytest

from tests.rules._cases import check_cases, codes

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"

CASES = {
    # TRN501
    "super_missing": HEAD + """
class Net(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(4, 2)
""",
    "super_missing_through_local_parent": HEAD + """
class Base(nn.Module):
    def __init__(self):
        super().__init__()

class Child(Base):
    def __init__(self, width):
        self.width = width
""",
    "super_missing_lightning": """
import lightning.pytorch as pl

class Lit(pl.LightningModule):
    def __init__(self):
        self.lr = 0.1
""",
    "super_old_style": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.fc = nn.Linear(4, 2)
""",
    "super_explicit_parent": HEAD + """
class Base(nn.Module):
    def __init__(self, width):
        nn.Module.__init__(self)
        self.width = width

class Child(Base):
    def __init__(self):
        Base.__init__(self, 4)
""",
    "super_not_a_module": HEAD + """
class Config:
    def __init__(self):
        self.lr = 0.1

class Trainer(Config):
    def __init__(self):
        self.epochs = 3
""",
    "super_no_own_init": HEAD + """
class Net(nn.Module):
    def forward(self, x):
        return x
""",
    "super_via_helper": HEAD + """
class Net(nn.Module):
    def __init__(self):
        self._setup()

    def _setup(self):
        super().__init__()
""",
    # TRN502
    "dropout_always_on": HEAD + """
class Net(nn.Module):
    def forward(self, x):
        x = F.dropout(x, 0.2)
        return F.dropout2d(x, p=0.1)
""",
    "dropout_with_training": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        x = self.drop(x)
        x = F.dropout(x, 0.2, self.training)
        return F.dropout(x, p=0.5, training=self.training)
""",
    "dropout_guarded_by_training": HEAD + """
class Net(nn.Module):
    def forward(self, x):
        if self.training and self.rate > 0:
            x = F.dropout(x, p=self.rate)
        return x
""",
    "dropout_outside_module": HEAD + """
def mc_sample(x):
    return F.dropout(x, 0.5)
""",
    # TRN503
    "linear_stack_sequential": HEAD + """
head = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.1), nn.Linear(8, 2))
""",
    "linear_stack_forward": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 2)

    def forward(self, x):
        x = self.a(x)
        x = self.b(x)
        return x

    def other(self, x):
        return self.b(self.a(x))
""",
    "linear_separated": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.b = nn.Linear(8, 2)

    def forward(self, x):
        x = self.a(x)
        x = F.relu(x)
        x = self.b(x)
        return self.b(self.norm(self.a(x)))

head = nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 2))
act = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 2))
low_rank = nn.Sequential(nn.Linear(64, 4, bias=False), nn.Linear(4, 64))
""",
    # TRN504
    "forward_direct": HEAD + """
model = nn.Linear(4, 2)
out = model.forward(torch.ones(4))
logits = net.forward(x)
""",
    "forward_legit": HEAD + """
class Scaled(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2

class Twice(Scaled):
    def forward(self, x):
        return Scaled.forward(self, x) + self.forward_once(x)

    def predict(self, x):
        return self.forward(x)

out = model(x)
thing = Pipeline()
thing.forward(x)
self_net = cv2.dnn.readNet("yolo.onnx")
net.forward()
""",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return check_cases(tmp_path_factory.mktemp("model_def"), CASES, "TRN501,TRN502,TRN503,TRN504")


@pytest.mark.parametrize("case, expected", [
    ("super_missing", ["TRN501"]),
    ("super_missing_through_local_parent", ["TRN501"]),
    ("super_missing_lightning", ["TRN501"]),
    ("super_old_style", []),
    ("super_explicit_parent", []),
    ("super_not_a_module", []),
    ("super_no_own_init", []),
    ("super_via_helper", []),
    ("dropout_always_on", ["TRN502", "TRN502"]),
    ("dropout_with_training", []),
    ("dropout_outside_module", []),
    ("dropout_guarded_by_training", []),
    ("linear_stack_sequential", ["TRN503"]),
    ("linear_stack_forward", ["TRN503", "TRN503"]),
    ("linear_separated", []),
    ("forward_direct", ["TRN504", "TRN504"]),
    ("forward_legit", []),
])
def test_findings(found, case, expected):
    assert codes(found[case]) == expected, found[case]


def test_super_init_is_reported_on_init_with_a_safe_fix(found):
    finding = found["super_missing"][0]
    assert finding["line"] == 7 and finding["name"] == "missing-super-init"
    assert finding["fix"]["applicability"] == "safe"
    assert "super().__init__()" in finding["fix"]["edits"][0]["content"]


def test_super_init_fix_not_offered_when_parent_needs_arguments(tmp_path):
    found = check_cases(tmp_path, {"needs_args": HEAD + """
class Base(nn.Module):
    def __init__(self, width):
        super().__init__()

class Child(Base):
    def __init__(self):
        self.x = 1
"""}, "TRN501")
    assert codes(found["needs_args"]) == ["TRN501"]
    assert found["needs_args"][0]["fix"] is None


def test_forward_fix_is_unsafe(found):
    assert all(f["fix"]["applicability"] == "unsafe" for f in found["forward_direct"])

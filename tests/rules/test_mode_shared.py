"""TRN101 where the model's entry mode is unknown but the function trains it before evaluating it,
with no mode switch in between: both run in one mode (seen in kathrinse/TabSurvey's trainers)."""

from __future__ import annotations

import pytest

from tests.rules._cases import check_cases, codes

HEAD = """import torch
import torch.nn as nn
from helpers import evaluate_elsewhere


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        return self.fc(self.drop(x))


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)

"""

# `fit` trains, then scores the validation loader each epoch; only `predict` calls eval(), so the
# flow cannot say which mode `fit` starts in, but both passes share it.
TRAINER = """
class Trainer:
    def __init__(self):
        self.model = {model}()

    def fit(self, train_loader, val_loader, optimizer, loss_func):
        for epoch in range(10):
            for xb, yb in train_loader:
                out = self.model(xb)
                if xb.dim() > 1:
                    out = out.squeeze()
                loss = loss_func(out, yb)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            {between}
            val_loss = 0.0
            for vx, vy in val_loader:
                out = self.model(vx)
                val_loss += loss_func(out, vy).item()
            print(val_loss)

    def predict(self, x):
        self.model.eval()
        with torch.no_grad():
            return self.model(x)
"""

CASES = {
    "trainer_validates_in_training_mode": HEAD + TRAINER.format(model="Net", between="pass"),
    # Look-alikes: an eval() before the validation pass; a helper of another module handed the
    # model in between (it may switch it); a model with no dropout or batch norm.
    "trainer_switches_to_eval": HEAD + TRAINER.format(model="Net", between="self.model.eval()"),
    "trainer_hands_model_to_helper": HEAD + TRAINER.format(model="Net",
                                                           between="evaluate_elsewhere(self.model)"),
    "trainer_model_without_mode_layers": HEAD + TRAINER.format(model="Plain", between="pass"),
    # Evaluation before any training in the function: nothing shows which mode it runs in.
    "validates_before_training": HEAD + """
class Trainer:
    def __init__(self):
        self.model = Net()

    def fit(self, train_loader, val_loader, optimizer, loss_func):
        for vx, vy in val_loader:
            print(loss_func(self.model(vx), vy).item())
        for xb, yb in train_loader:
            loss = loss_func(self.model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def predict(self, x):
        self.model.eval()
        return self.model(x)
""",
    # A generator's samples after its training step are sampling, not evaluation.
    "gan_samples_after_training": HEAD + """
class GAN:
    def __init__(self):
        self.G = Net()

    def train(self, loader, optimizer, loss_func, fixed_z):
        for real, _ in loader:
            loss = loss_func(self.G(real), real)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        samples = self.G(fixed_z)
        return samples

    def evaluate(self, z):
        self.G.eval()
        return self.G(z)
""",
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return check_cases(tmp_path_factory.mktemp("mode_shared"), CASES, "TRN101")


@pytest.mark.parametrize("case, expected", [
    ("trainer_validates_in_training_mode", ["TRN101"]),
    ("trainer_switches_to_eval", []),
    ("trainer_hands_model_to_helper", []),
    ("trainer_model_without_mode_layers", []),
    ("validates_before_training", []),
    ("gan_samples_after_training", []),
])
def test_findings(found, case, expected):
    assert sorted(codes(found[case])) == expected, found[case]


def test_message_says_where_it_trains(found):
    (finding,) = found["trainer_validates_in_training_mode"]
    assert finding["severity"] == "error"
    assert "after training it in `fit()` with no mode switch in between" in finding["message"]
    assert "nn.Dropout" in finding["message"]

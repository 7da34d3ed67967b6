"""Shapes of TRN101/TRN102 bugs that upstream fix commits repaired (session 16): each family
is checked on the bug and on its correct look-alike, with the real command.

- a trainer module of a library that is handed its model never names torch (the fix adds the
  import with the `no_grad`): the mode switch `self.model.eval()` is enough to read it;
- a trainer class's own helper method runs the model for `train`, `validate` and `predict`
  alike (`out = self._forward(batch)`): the caller's name says which one runs;
- a model's named method (`model.infer(x)`) is not its `forward`: a library class of the same
  run whose `forward` is decorated `@torch.no_grad()` does not excuse it;
- a torchvision constructor chosen by name (`models.__dict__[arch](pretrained=True)`) builds a
  model in training mode.
"""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

TRAINER_WITHOUT_TORCH = """
class Trainer(object):
    def __init__(self, model, train_loss, valid_loss, optim):
        self.model = model
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.optim = optim

    def train(self, train_iter, valid_iter, epochs):
        for epoch in range(epochs):
            self.model.train()
            for batch in train_iter:
                self.model.zero_grad()
                outputs = self.model(batch.src, batch.tgt)
                loss = self.train_loss(outputs, batch.tgt)
                loss.backward()
                self.optim.step()
            stats = self.validate(valid_iter)
        return stats

    def validate(self, valid_iter):
        self.model.eval()
        total = 0.0
        for batch in valid_iter:
            outputs = self.model(batch.src, batch.tgt)
            total += self.valid_loss(outputs, batch.tgt).item()
        self.model.train()
        return total
"""

SELF_RUNNER = """
import torch


class EnergyTrainer:
    def __init__(self, model, optimizer, train_loader, test_loader):
        self.model = model
        self.optimizer = optimizer
        self.train_loader = train_loader
        self.test_loader = test_loader

    def _forward(self, batch):
        out = self.model(batch)
        return out.view(-1)

    def train(self, epochs):
        for epoch in range(epochs):
            self.model.train()
            for batch in self.train_loader:
                loss = ((self._forward(batch) - batch.y) ** 2).mean()
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
            self.predict(self.test_loader)

    DECORATORpredict(self, loader):
        self.model.eval()
        predictions = []
        for batch in loader:
            out = self._forward(batch)
            predictions.extend(out.tolist())
        return predictions
"""

NAMED_METHOD = {
    "segment/models.py": """
        import torch
        import torch.nn as nn


        class PromptedSegmenter(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 1, 1))

            def forward(self, x, gt):
                return nn.functional.binary_cross_entropy_with_logits(self.encoder(x), gt)

            def infer(self, x):
                return self.encoder(x)


        class InferenceOnlySegmenter(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Conv2d(3, 1, 1)

            @torch.no_grad()
            def forward(self, x):
                return self.net(x)


        REGISTRY = {"prompted": PromptedSegmenter, "inference": InferenceOnlySegmenter}


        def make(name):
            return REGISTRY[name]()
        """,
    "segment/evaluate.py": """
        import torch
        from segment import models


        def eval_iou(loader, model):
            model.eval()
            scores = []
            for batch in loader:
                pred = torch.sigmoid(model.METHOD(batch["inp"]))
                scores.append(((pred > 0.5) == batch["gt"]).float().mean().item())
            return sum(scores) / len(scores)


        if __name__ == "__main__":
            model = models.make("prompted")
            model.load_state_dict(torch.load("best.pth"))
            print(eval_iou(torch.load("test_batches.pt"), model))
        """,
    "segment/__init__.py": "",
}

LOOKED_UP = """
import argparse

import torch
from torchvision import models


def main(args):
    model = models.__dict__[args.arch](pretrained=True)CHAIN
    image = torch.load(args.image)
    scores = model(image.unsqueeze(0))
    print(scores.squeeze(0).argmax().item())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--image")
    main(parser.parse_args())
"""


def test_trainer_module_that_never_names_torch_is_read_through_its_mode_switch(tmp_path):
    cases = {
        "onmt/trainer.py": TRAINER_WITHOUT_TORCH,
        # Look-alike: the fixed file imports torch and validates under no_grad.
        "fixed/trainer.py": "import torch\n" + TRAINER_WITHOUT_TORCH.replace(
            "        for batch in valid_iter:\n            outputs",
            "        with torch.no_grad():\n          for batch in valid_iter:\n            outputs"),
    }
    found = run_cases(tmp_path, cases, "TRN102")
    assert codes_lines(found["onmt/trainer.py"]) == [("TRN102", 24)]
    assert codes_lines(found["fixed/trainer.py"]) == []


def test_trainer_helper_method_run_from_predict_is_an_evaluation(tmp_path):
    cases = {
        "trainers/energy.py": SELF_RUNNER.replace("DECORATOR", "def "),
        # Look-alike: the fixed `predict` is decorated with no_grad.
        "fixed/energy.py": SELF_RUNNER.replace("DECORATOR", "@torch.no_grad()\n    def "),
    }
    found = run_cases(tmp_path, cases, "TRN102")
    assert codes_lines(found["trainers/energy.py"]) == [("TRN102", 29)]
    assert codes_lines(found["fixed/energy.py"]) == []


def test_named_model_method_is_not_excused_by_a_grad_free_forward_elsewhere(tmp_path):
    bug = run_cases(tmp_path / "bug", {**NAMED_METHOD, "segment/evaluate.py": NAMED_METHOD[
        "segment/evaluate.py"].replace("METHOD", "infer")}, "TRN102")
    assert codes_lines(bug["segment/evaluate.py"]) == [("TRN102", 9)]
    # Look-alike: the same loop under no_grad.
    fixed = run_cases(tmp_path / "fixed", {**NAMED_METHOD, "segment/evaluate.py": NAMED_METHOD[
        "segment/evaluate.py"].replace("for batch in loader:", "for batch in loader:\n      with torch.no_grad():")
        .replace("        pred =", "         pred =").replace("        scores.append", "         scores.append")
        .replace("METHOD", "infer")}, "TRN102")
    assert codes_lines(fixed["segment/evaluate.py"]) == []


def test_torchvision_constructor_looked_up_by_name_builds_a_model_in_training_mode(tmp_path):
    cases = {
        "cam_example.py": LOOKED_UP.replace("CHAIN", ""),
        # Look-alike: the fix chains `.eval()` onto the constructor.
        "fixed_example.py": LOOKED_UP.replace("CHAIN", ".eval()"),
        "getattr_example.py": LOOKED_UP.replace("CHAIN", "").replace(
            "models.__dict__[args.arch]", "getattr(models, args.arch)"),
    }
    found = run_cases(tmp_path, cases, "TRN101")
    assert codes_lines(found["cam_example.py"]) == [("TRN101", 10)]
    assert codes_lines(found["getattr_example.py"]) == [("TRN101", 10)]
    assert codes_lines(found["fixed_example.py"]) == []


BUILDER = """
from torch.utils.data import DataLoader


def build_dataloader(dataset, samples_per_gpu, workers_per_gpu, num_gpus=1, shuffle=True, **kwargs):
    return DataLoader(dataset, batch_size=num_gpus * samples_per_gpu, shuffle=shuffle,
                      num_workers=num_gpus * workers_per_gpu, **kwargs)
"""

TEST_SCRIPT = """
import torch
from datasets.builder import build_dataloader


def main(cfg, model):
    test_set = cfg.build(cfg.data.test)
    data_loader = build_dataloader(test_set, 1, 2, 1SHUFFLE)
    model.eval()
    with torch.no_grad():
        for batch in data_loader:
            model(batch["image"])
"""


def test_another_modules_loader_builder_that_shuffles_by_default(tmp_path):
    """TRN203 (UWEnhancement's fix): the test script forgets `shuffle=False` for the project's
    `build_dataloader`, whose `shuffle` defaults to True; the training script may rely on it."""
    cases = {
        "datasets/__init__.py": "",
        "datasets/builder.py": BUILDER,
        "test_forgot.py": TEST_SCRIPT.replace("SHUFFLE", ""),
        # Look-alikes: the fixed script passes shuffle=False; the training loader shuffles.
        "test_fixed.py": TEST_SCRIPT.replace("SHUFFLE", ", shuffle=False"),
        "train.py": TEST_SCRIPT.replace("SHUFFLE", "").replace("cfg.data.test", "cfg.data.train").replace(
            "test_set", "train_set"),
    }
    found = run_cases(tmp_path, cases, "TRN203")
    assert codes_lines(found["test_forgot.py"]) == [("TRN203", 7)]
    assert codes_lines(found["test_fixed.py"]) == []
    assert codes_lines(found["train.py"]) == []
    assert codes_lines(found["datasets/builder.py"]) == []

"""Families behind the false alarms of a precision review on fresh repositories (session 15:
deployment scripts, speech and domain-adaptation research code), each with the bug the rule
must keep and the correct look-alike it must leave alone. Through the real command.

- TRN102: a method of another framework's runtime object (`ie = Core()` from OpenVINO, then
  `ie.read_model(...)`, `ie.query_network(net, "CPU")`): the name ends in a model word but the
  call runs no torch module; a torch model's forward in the same file still counts;
- TRN102/TRN101: a module class that only wraps torch losses and numbers (label smoothing
  around `nn.KLDivLoss`) called on constant tensors: a criterion, no model; a class that holds
  a loss and calls a model it was handed is still evaluated;
- TRN103: a class method leaves a teacher network in eval mode and the student's training step
  runs only its parts under `no_grad`: the step trains other modules; a step that runs the
  network left in eval mode with autograd on is still reported;
- TRN101: a model class whose forward never reads the attribute holding its dropout (a
  feature-map network returning `self.features` maps, the classifier kept unused): no layer
  that runs depends on the mode (info); the same class whose forward runs the classifier is an error;
- TRN204: a result dict of the test split read only for its keys (`for key in
  sorted(set(train_stats.keys()) | set(test_stats.keys()))`, `if key in test_stats:`) to fill
  a log: that is no decision on the test score (the finding stays, as a report at info); a
  comparison with the test loss in the same loop still decides.
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import run_cases

_OPENVINO = """
import numpy as np
import torch
from openvino.runtime import Core
from openvino.inference_engine import IECore

from model import resnet34


def ir_inference(ir_path, image, num_images=20):
    ie = Core()
    model_ir = ie.read_model(model=ir_path)
    compiled = ie.compile_model(model=model_ir, device_name="CPU")
    request = compiled.create_infer_request()
    for _ in range(num_images):
        request.infer(inputs={"input": image})
    return num_images


def supported(xml_path, bin_path):
    ie = IECore()
    net = ie.read_network(model=xml_path, weights=bin_path)
    layers = ie.query_network(net, "CPU")
    return [name for name in net.layers.keys() if name not in layers]


def torch_speed(test_loader):
    net = resnet34(num_classes=5)
    net.load_state_dict(torch.load("weights.pth"))
    net.eval()
    correct = 0
    for x, y in test_loader:
{forward}
        correct += (out.argmax(1) == y).sum().item()
    return correct
"""

_TRAIN = """
import torch
import torch.nn.functional as F


def test(loader, model):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += F.cross_entropy(model(x), y).item()
    return {"loss": total}


def train_epoch(loader, model, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return {"loss": loss.item()}


def train(loaders, model, optimizer, epochs):
    train_loader, val_loader, test_loader = loaders
    best = float("inf")
    log = []
    for epoch in range(epochs):
        stats = {}
        train_stats = train_epoch(train_loader, model, optimizer)
        valid_stats = test(val_loader, model)
        if valid_stats["loss"] < best:
            best = valid_stats["loss"]
            torch.save(model.state_dict(), "best.pt")
        test_stats = test(test_loader, model)
{decision}
        for key in sorted(set(list(train_stats.keys()) + list(test_stats.keys()))):
            if key in train_stats:
                stats["train/" + key] = train_stats[key]
            if key in test_stats:
                stats["test/" + key] = test_stats[key]
        log.append(stats)
    return log
"""

# TRN102/TRN101: a module class that only wraps a torch loss (and numbers) is a criterion, not
# a model: calling it on constant tensors (to plot label smoothing's penalty) records nothing.
_LOSS_WRAPPER = """
import torch
import torch.nn as nn


class LabelSmoothing(nn.Module):
    def __init__(self, size, padding_idx, smoothing=0.0):
        super().__init__()
        self.criterion = nn.KLDivLoss(reduction="sum")
        self.padding_idx = padding_idx
        self.confidence = 1.0 - smoothing
        self.smoothing = smoothing
        self.size = size
        self.true_dist = None

    def forward(self, x, target):
        true_dist = x.data.clone()
        true_dist.fill_(self.smoothing / (self.size - 2))
        true_dist.scatter_(1, target.data.unsqueeze(1), self.confidence)
        true_dist[:, self.padding_idx] = 0
        self.true_dist = true_dist
        return self.criterion(x, true_dist.clone().detach())


def loss(x, crit):
    d = x + 3 * 1
    predict = torch.FloatTensor([[0, x / d, 1 / d, 1 / d, 1 / d]])
    return crit(predict.log(), torch.LongTensor([1])).data


def penalization_visualization():
    crit = LabelSmoothing(5, 0, 0.1)
    return [loss(x, crit) for x in range(1, 100)]
"""

# The bug next to it: a module class holding a loss *and* a model it calls, scored on test data.
_MODEL_AND_LOSS = """
import torch
import torch.nn as nn


class Scored(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.criterion = nn.CrossEntropyLoss()
        self.model = model

    def forward(self, x, target):
        return self.criterion(self.model(x), target)


def loss(x, y, scorer):
    return scorer(x, y).item()


def test_losses(test_loader):
    scorer = Scored(nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 2)))
    scorer.eval()
    return [loss(x, y, scorer) for x, y in test_loader]
"""

# TRN103: a plain trainer class (its base is imported) trains a teacher in one method and leaves
# it in eval mode; the student's step runs only parts of the teacher, under no_grad, to make
# targets: the modules it trains are in training mode. The bug next to it: the step runs the
# switched network itself, with autograd on.
_FROZEN_TEACHER = """
import torch
import torch.nn as nn
import torch.nn.functional as F

from alg.base import Algorithm
from alg.modelopera import get_fea


class DistillFrozenTeacher(Algorithm):
    def __init__(self, args):
        super().__init__(args)
        self.featurizer = get_fea(args)
        self.classifier = nn.Linear(8, 2)
        self.teaf = get_fea(args)
        self.teac = nn.Linear(8, 2)
        self.teaNet = nn.Sequential(self.teaf, self.teac)

    def teanettrain(self, loader, opt1):
        self.teaNet.train()
        for x, y in loader:
            loss = F.cross_entropy(self.teaNet(x), y)
            opt1.zero_grad()
            loss.backward()
            opt1.step()
        self.teaNet.eval()

    def update(self, x, y, opt):
        with torch.no_grad():
            tfea = self.teaf(x).detach()
        z = self.featurizer(x)
        loss = F.cross_entropy(self.classifier(z), y) + F.mse_loss(z, tfea)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
"""

_STEP_RUNS_NET = """
import torch
import torch.nn as nn
import torch.nn.functional as F

from alg.base import Algorithm
from alg.modelopera import get_fea


class DistillTrainsNet(Algorithm):
    def __init__(self, args):
        super().__init__(args)
        self.featurizer = get_fea(args)
        self.classifier = nn.Linear(8, 2)
        self.teaf = get_fea(args)
        self.teac = nn.Linear(8, 2)
        self.teaNet = nn.Sequential(self.teaf, self.teac)

    def teanettrain(self, loader, opt1):
        self.teaNet.train()
        for x, y in loader:
            loss = F.cross_entropy(self.teaNet(x), y)
            opt1.zero_grad()
            loss.backward()
            opt1.step()
        self.teaNet.eval()

    def update(self, x, y, opt):
        with torch.no_grad():
            tfea = x.detach()
        z = self.teaNet(x)
        loss = F.cross_entropy(self.classifier(z), y) + F.mse_loss(z, tfea)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
"""

# TRN101: a feature-map script's network keeps the original classifier (with dropout) but its
# forward returns the conv feature maps only: the dropout never runs, so the missing eval()
# changes nothing (info, not error). The bug next to it: the forward runs the classifier.
_FEATURES_ONLY = """
import torch
import torch.nn as nn


class FeatureAlexNet(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 48, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.Linear(48 * 6 * 6, num_classes))
        self._initialize_weights()

    def forward(self, x):
        outputs = []
        for name, module in self.features.named_children():
            x = module(x)
            outputs.append(x)
        return outputs

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)


def feature_maps(images):
    model = FeatureAlexNet(num_classes=5)
    model.load_state_dict(torch.load("AlexNet.pth"))
    maps = []
    with torch.no_grad():
        for img in images:
            maps.append([m.numpy() for m in model(img)])
    return maps
"""

_FORWARD_RUNS_DROPOUT = """
import torch
import torch.nn as nn


class FullAlexNet(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 48, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.Linear(48 * 6 * 6, num_classes))
        self._initialize_weights()

    def forward(self, x):
        outputs = []
        for name, module in self.features.named_children():
            x = module(x)
            outputs.append(x)
        return self.classifier(torch.flatten(x, 1))

    def _initialize_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)


def feature_maps(images):
    model = FullAlexNet(num_classes=5)
    model.load_state_dict(torch.load("AlexNet.pth"))
    maps = []
    with torch.no_grad():
        for img in images:
            maps.append([m.numpy() for m in model(img)])
    return maps
"""

CASES = {
    "features_only_forward_ok.py": _FEATURES_ONLY,
    "forward_runs_dropout_bad.py": _FORWARD_RUNS_DROPOUT,
    "frozen_teacher_ok.py": _FROZEN_TEACHER,
    "step_runs_eval_net_bad.py": _STEP_RUNS_NET,
    "loss_wrapper_ok.py": _LOSS_WRAPPER,
    "model_and_loss_bad.py": _MODEL_AND_LOSS,
    # Look-alike: OpenVINO runtime methods; the torch forward is under no_grad.
    "openvino_ok.py": _OPENVINO.replace("{forward}", "        with torch.no_grad():\n            out = net(x)"),
    # Bug: same file, the torch model's test forward records a graph.
    "openvino_torch_bad.py": _OPENVINO.replace("{forward}", "        out = net(x)"),
    # Look-alike: the test dict's keys fill a log; checkpoints follow validation.
    "test_keys_logged_ok.py": _TRAIN.replace("{decision}\n", ""),
    # Bug: the test loss also decides the early stop.
    "test_loss_decides_bad.py": _TRAIN.replace("{decision}", '        if test_stats["loss"] < 0.1:\n            break'),
}

EXPECTED = {
    "features_only_forward_ok.py": [("TRN101", "info", 31)],
    "forward_runs_dropout_bad.py": [("TRN101", "error", 31)],
    "frozen_teacher_ok.py": [],
    "step_runs_eval_net_bad.py": [("TRN103", "error", 34)],
    "loss_wrapper_ok.py": [],
    "model_and_loss_bad.py": [("TRN102", "warning", 16), ("TRN102", "warning", 22)],
    "openvino_ok.py": [],
    "openvino_torch_bad.py": [("TRN102", "warning", 32)],
    "test_keys_logged_ok.py": [("TRN204", "info", 35)],
    "test_loss_decides_bad.py": [("TRN204", "error", 35)],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("review5"), CASES, "TRN1,TRN2")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fresh_review5_families(found, name):
    assert sorted((f["code"], f["severity"], f["line"]) for f in found[name]) == EXPECTED[name]


# TRN102: an algorithm zoo (DomainBed style). Each algorithm class defines `predict`; a generic
# `accuracy(network, loader)` calls `network.predict(x)` under no_grad. `ERM` and its subclass
# `Mixup` call `self.predict(x)` in training: that reaches ERM's family only, never the sibling
# `DANN.predict`, whose every way in runs without autograd; nor do a scikit-learn probe's
# `probe.predict(X)` and a torch-free baseline file's `clf.predict(X)`.
_ZOO = {
    "alg/__init__.py": "",
    "alg/base.py": """
import torch


class Algorithm(torch.nn.Module):
    def __init__(self, args):
        super().__init__()

    def predict(self, x):
        raise NotImplementedError
{template}""",
    "alg/erm.py": """
import torch.nn as nn
import torch.nn.functional as F

from alg.base import Algorithm


class ERM(Algorithm):
    def __init__(self, args):
        super().__init__(args)
        self.featurizer = nn.Linear(8, 8)
        self.classifier = nn.Linear(8, 2)

    def update(self, minibatches, opt):
        x, y = minibatches
        loss = F.cross_entropy(self.predict(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    def predict(self, x):
        return self.classifier(self.featurizer(x))
""",
    "alg/mixup.py": """
import torch.nn.functional as F

from alg.erm import ERM


class Mixup(ERM):
    def update(self, minibatches, opt):
        x, y = minibatches
        loss = F.cross_entropy(self.predict(x * 0.5), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
""",
    "alg/dann.py": """
import torch.nn as nn
import torch.nn.functional as F

from alg.base import Algorithm


class DANN(Algorithm):
    def __init__(self, args):
        super().__init__(args)
        self.featurizer = nn.Linear(8, 8)
        self.classifier = nn.Linear(8, 2)
        self.discriminator = nn.Linear(8, 2)

    def update(self, minibatches, opt):
        x, y = minibatches
        z = self.featurizer(x)
        loss = F.cross_entropy(self.classifier(z), y) + self.discriminator(z).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    def predict(self, x):
        return self.classifier(self.featurizer(x))
""",
    "alg/modelopera.py": """
import torch
from sklearn.linear_model import LogisticRegression


def accuracy(network, loader):
    correct = 0
    network.eval()
    with torch.no_grad():
        for x, y in loader:
            correct += (network.predict(x).argmax(1) == y).float().sum().item()
    network.train()
    return correct


def linear_probe(features, labels):
    probe = LogisticRegression()
    probe.fit(features, labels)
    return probe.predict(features)
""",
    # A scikit-learn baseline of the same repository: `clf` is handed in, nothing of torch here.
    "traditional/baseline.py": """
import numpy as np
from sklearn.svm import SVC


def risk(clf, X, y):
    return np.mean(clf.predict(X) != y)


print(risk(SVC().fit(np.zeros((4, 2)), [0, 1, 0, 1]), np.zeros((4, 2)), [0, 1, 0, 1]))
""",
}

# The bug next to it: a template method of the base class scores with `self.predict(x)` and
# autograd on, which runs every subclass's `predict`, DANN's included.
_TEMPLATE = """
    def score(self, loader):
        correct = 0
        for x, y in loader:
            correct += (self.predict(x).argmax(1) == y).sum().item()
        return correct
"""


def _zoo(template: str) -> dict:
    return {name: source.replace("{template}", template) for name, source in _ZOO.items()}


@pytest.mark.parametrize("template, expected", [
    ("", []),
    (_TEMPLATE, [("TRN102", 24)]),
], ids=["siblings_self_calls_ok", "base_template_scores_bad"])
def test_zoo_predict_reached_only_under_no_grad(tmp_path, template, expected):
    found = run_cases(tmp_path, _zoo(template), "TRN102")
    assert sorted((f["code"], f["line"]) for f in found["alg/dann.py"]) == expected

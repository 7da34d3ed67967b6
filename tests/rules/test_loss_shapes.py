"""TRN301/TRN302 on shapes of code read in session 14's dev repositories: a model class
star-imported from another module, a dict output read from a model handed in by a
registry, an `nn.Sequential` subclass ending in `nn.Softmax`, outputs joined by
`torch.cat`, and a list rebound in the block that built it. Each with its correct
look-alike, through the real command on real files."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

# `from model import *` brings the model class (and the trainer class) in.
STAR = {
    "model.py": HEAD + """
class Disc(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 1)
        self.fc2 = nn.Linear(8, 10)
        self.act = nn.Sigmoid()
        self.act1 = nn.Softmax(dim=1)

    def forward(self, x):
        return self.act(self.fc1(x)), self.act1(self.fc2(x))

class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(x)

class Trainer:
    def __init__(self, net, criterion):
        self.net = net
        self.criterion = criterion
""",
    "train.py": """
import torch.nn as nn
from model import *

bce = nn.BCELoss()
ce = nn.CrossEntropyLoss()
disc = Disc()
plain = Plain()

def step(x, y, labels):
    real, classes = disc(x)
    return bce(real, y) + ce(classes, labels)

def step_ok(x, labels):
    return ce(plain(x), labels)

trainer = Trainer(disc, nn.CrossEntropyLoss())
""",
    # `nn` itself comes from the star import (model.py imports torch.nn as nn).
    "train_bare.py": """
import torch
from model import *

ce = nn.CrossEntropyLoss()
disc = Disc()

def step(x, labels):
    real, classes = disc(x)
    return ce(classes, labels) + F.cross_entropy(classes, labels)
""",
}

# A trainer handed the model by a registry reads `output['exist']`: what every model of the
# project returns under that key decides.
REGISTRY = {
    "models/__init__.py": "",
    "models/lane.py": HEAD + """
class ExistHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))

class LaneNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(8, 16)
        self.head = ExistHead()

    def forward(self, img):
        fea = self.backbone(img)
        exist = self.head(fea)
        return {'seg': fea, 'exist': exist, 'score': fea}

class ScoreNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, img):
        return {'score': torch.sigmoid(self.fc(img)), 'other': self.fc(img)}
""",
    "runner/__init__.py": "",
    "runner/trainer.py": HEAD + """
class LaneTrainer(nn.Module):
    def __init__(self):
        super().__init__()
        self.criterion = nn.BCEWithLogitsLoss()

    def forward(self, net, batch):
        output = net(batch['img'])
        exist_loss = self.criterion(output['exist'], batch['exist'])
        score_loss = self.criterion(output['score'], batch['score'])
        return exist_loss + score_loss
""",
    "main.py": """
from models.lane import LaneNet, ScoreNet
from runner.trainer import LaneTrainer

nets = [LaneNet(), ScoreNet()]
trainer = LaneTrainer()
""",
}

# A classifier deriving from nn.Sequential, handed on to the training loop of another module,
# which joins the outputs of single samples with torch.cat.
SEQUENTIAL = {
    "pkg/__init__.py": "",
    "pkg/heads.py": HEAD + """
class SoftmaxHead(nn.Sequential):
    def __init__(self, n_in, n_out):
        super(SoftmaxHead, self).__init__(nn.Linear(n_in, n_out), nn.Softmax(dim=-1))

    def forward(self, x):
        return super().forward(x.mean(dim=-1))

class FlagHead(nn.Sequential):
    def __init__(self, n_in, n_out, use_softmax=True):
        layers = [nn.Linear(n_in, n_out)]
        if use_softmax:
            layers.append(nn.Softmax(dim=-1))
        super().__init__(*layers)

class GrownHead(nn.Sequential):
    def __init__(self, n_in, n_out):
        super().__init__(nn.Linear(n_in, n_out), nn.Softmax(dim=-1))
        self.add_module("out", nn.Linear(n_out, n_out))
""",
    "pkg/loops.py": HEAD + """
def training_loops(net, loader, epochs):
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters())
    for epoch in range(epochs):
        run_epoch(loader, net, criterion, optimizer)

def run_epoch(loader, net, criterion, optimizer):
    for inputs, targets in loader:
        if net.training:
            outputs = [net(sample) for sample in inputs]
            outputs = torch.cat(outputs, dim=0)
        else:
            outputs = net(inputs[0])
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
""",
    "train.py": """
import torch
from pkg.heads import SoftmaxHead
from pkg.loops import training_loops

net = SoftmaxHead(16, 4)
training_loops(net, [], 3)
""",
    "pkg/loops_ok.py": HEAD + """
def training_loops_ok(net, loader):
    criterion = nn.CrossEntropyLoss()
    for inputs, targets in loader:
        outputs = torch.cat([net(sample) for sample in inputs], dim=0)
        criterion(outputs, targets).backward()
""",
    "train_ok.py": """
import torch
from pkg.heads import FlagHead, GrownHead
from pkg.loops_ok import training_loops_ok

training_loops_ok(FlagHead(16, 4, use_softmax=False), [])
training_loops_ok(GrownHead(16, 4), [])
""",
}

# One file: joined outputs, and a list rebound by torch.cat in the block that built it.
JOINED = {
    "joined.py": HEAD + """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=-1)

net = Net()
logits_net = nn.Linear(4, 3)
criterion = nn.CrossEntropyLoss()
for inputs, targets in []:
    if inputs.dim() > 2:
        outs = [net(i) for i in inputs]
        outs = torch.cat(outs, dim=0)
    else:
        outs = net(inputs)
    loss = criterion(outs, targets)
    stacked = criterion(torch.stack([net(i) for i in inputs]), targets)
    fine = criterion(torch.cat([logits_net(i) for i in inputs]), targets)
""",
}


def test_star_imported_model_class(tmp_path):
    found = run_cases(tmp_path, STAR, "TRN301,TRN302")
    # The softmax element of the star-imported class reaches CrossEntropyLoss; the sigmoid
    # element goes to BCELoss (correct); a class returning logits is fine. The trainer class
    # comes from the run too (its own body decides), so its construction is not flagged.
    assert codes_lines(found["train.py"]) == [("TRN301", 11)]
    assert codes_lines(found["model.py"]) == []
    assert codes_lines(found["train_bare.py"]) == [("TRN301", 9), ("TRN301", 9)]


def test_dict_key_of_a_handed_model(tmp_path):
    found = run_cases(tmp_path, REGISTRY, "TRN301,TRN302")
    # 'exist' holds a sigmoid in every model of the project; 'score' holds logits in LaneNet.
    assert codes_lines(found["runner/trainer.py"]) == [("TRN302", 12)]
    assert "LaneNet in models.lane" in found["runner/trainer.py"][0]["message"]


def test_sequential_subclass_and_joined_outputs(tmp_path):
    found = run_cases(tmp_path, SEQUENTIAL, "TRN301")
    assert codes_lines(found["pkg/loops.py"]) == [("TRN301", 18)]
    # use_softmax=False leaves the Linear last; a module added after the softmax is last.
    assert codes_lines(found["pkg/loops_ok.py"]) == []
    assert codes_lines(found["train_ok.py"]) == codes_lines(found["train.py"]) == []


def test_joined_outputs_and_list_rebound_in_its_block(tmp_path):
    found = run_cases(tmp_path, JOINED, "TRN301")
    assert codes_lines(found["joined.py"]) == [("TRN301", 22), ("TRN301", 23)]


# Probabilities returned by a helper of the file: a function (module-level or nested), or a
# method other than forward of a model class the file builds.
HELPERS = {
    "helpers.py": HEAD + """
class Clf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)

    def predict_proba(self, x):
        return torch.softmax(self(x), dim=1)

    def scores(self, x):
        return self(x)

def predict(net, x):
    out = net(x)
    return F.softmax(out, dim=1)

def maybe_probs(net, x, probs=False):
    out = net(x)
    if probs:
        out = F.softmax(out, dim=1)
    return out

def train(loader):
    clf = Clf()
    criterion = nn.CrossEntropyLoss()

    def step(x):
        return F.softmax(clf(x), dim=-1)

    for x, y in loader:
        criterion(predict(clf, x), y).backward()
        probs = clf.predict_proba(x)
        criterion(probs, y).backward()
        criterion(step(x), y).backward()
        criterion(maybe_probs(clf, x), y).backward()
        criterion(clf.scores(x), y).backward()
        accuracy = (predict(clf, x).argmax(1) == y).float().mean()
""",
}


def test_probabilities_returned_by_a_helper(tmp_path):
    found = run_cases(tmp_path, HELPERS, "TRN301")
    # Not the helper returning the softmax only under a flag, nor the method returning
    # logits, nor the softmax used for accuracy.
    assert codes_lines(found["helpers.py"]) == [("TRN301", 37), ("TRN301", 39), ("TRN301", 40)]


# The helper in another module: imported by name, or through `from utils import *`.
IMPORTED_HELPERS = {
    "utils.py": HEAD + """
def predict(net, x):
    return F.softmax(net(x), dim=1)

def logits_of(net, x):
    return net(x)
""",
    "train.py": HEAD + """
from utils import predict, logits_of

net = nn.Linear(4, 3)
criterion = nn.CrossEntropyLoss()
for x, y in []:
    criterion(predict(net, x), y).backward()
    criterion(logits_of(net, x), y).backward()
""",
    "train_star.py": HEAD + """
from utils import *

net = nn.Linear(4, 3)
criterion = nn.CrossEntropyLoss()
for x, y in []:
    criterion(predict(net, x), y).backward()
    criterion(logits_of(net, x), y).backward()
""",
}


def test_probabilities_returned_by_a_helper_of_another_module(tmp_path):
    found = run_cases(tmp_path, IMPORTED_HELPERS, "TRN301")
    assert codes_lines(found["train.py"]) == codes_lines(found["train_star.py"]) == [("TRN301", 10)]
    assert codes_lines(found["utils.py"]) == []


# The model class picked from a table of classes (`MODELS[args.model](args)`): flagged only
# when every class of the table ends in the softmax (log_softmax models are fine).
TABLE = {
    "models.py": HEAD + """
class A(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=-1)

class B(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x).softmax(dim=-1)

class C(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=-1)
""",
    "train.py": HEAD + """
from models import A, B, C

MODELS = {'a': A, 'b': B}
MIXED = {'a': A, 'c': C}

def train(args, loader):
    model = MODELS[args.model](args)
    other = MIXED[args.model](args)
    for x, y in loader:
        F.cross_entropy(model(x), y).backward()
        F.cross_entropy(other(x), y).backward()
""",
}


def test_model_class_picked_from_a_table(tmp_path):
    found = run_cases(tmp_path, TABLE, "TRN301")
    assert codes_lines(found["train.py"]) == [("TRN301", 14)]

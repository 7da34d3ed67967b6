"""TRN301/302 when what reaches the loss is decided by the callers or by another module:
a criterion or a model handed to a training function (same file or another module),
an element of a dict a model returns (`output['exist']`), also from a model the file
cannot see (built by a registry); and TRN405 through a meter of another module.
Each family with its correct look-alike, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch.nn as nn
import torch.nn.functional as F

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        x = self.fc(x)
        return F.softmax(x)

class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)

    def forward(self, x):
        return self.fc(x)
"""

HANDED = {
    "model.py": MODELS,
    # What the functions receive is decided in main.py.
    "train.py": """
import torch.nn as nn
import torch.nn.functional as F


def source_only(encoder, classifier, loader):
    criterion = nn.CrossEntropyLoss().cuda()
    for x, y in loader:
        pred = classifier(encoder(x))
        loss = criterion(pred, y)
        loss.backward()


def mixed(classifier, loader):
    for x, y in loader:
        loss = F.cross_entropy(classifier(x), y)
        loss.backward()


def fit(net, criterion, loader):
    for x, y in loader:
        probs = F.softmax(net(x), dim=1)
        loss = criterion(probs, y)
        loss.backward()


def fit_any(net, criterion, loader):
    for x, y in loader:
        probs = F.softmax(net(x), dim=1)
        criterion(probs, y).backward()
""",
    "main.py": """
import torch.nn as nn
import model
import train
from losses import SmoothLoss

def main():
    encoder = model.Plain().cuda()
    classifier = model.Classifier().cuda()
    train.source_only(encoder, classifier, loader)
    train.mixed(classifier, loader)
    train.mixed(model.Plain(), loader)
    train.fit(encoder, nn.CrossEntropyLoss(), loader)
    train.fit_any(encoder, nn.CrossEntropyLoss(), loader)
    train.fit_any(encoder, SmoothLoss(), loader)
""",
    # The same families inside one file (a notebook's train_model and its call).
    "notebook.py": """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.out = nn.Softmax(dim=1)

    def forward(self, x):
        return self.out(self.fc(x))


def train_model(model, criterion, optimizer, num_epochs=25):
    for epoch in range(num_epochs):
        for inputs, labels in loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            outputs = F.softmax(outputs, dim=1)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
    return model


def train_net(net, optimizer):
    for inputs, labels in loader:
        loss = F.cross_entropy(net(inputs), labels)
        loss.backward()


def train_either(model, criterion, optimizer):
    for inputs, labels in loader:
        loss = criterion(F.softmax(model(inputs), dim=1), labels)
        loss.backward()


criterion = nn.CrossEntropyLoss()
model_ft = train_model(model, criterion, opt, num_epochs=10)
train_net(Net(), opt)
train_either(model, criterion, opt)
train_either(model, nn.NLLLoss(), opt)
""",
    # `net = net.to(device)` and `net = net.train()` hand back the same model.
    "rebound.py": """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x).softmax(dim=1)


class LogNet(Net):
    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)


class Window(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.softmax = nn.LogSoftmax(dim=1)  # a layer named softmax, not x.softmax()

    def forward(self, x):
        return self.softmax(self.fc(x))


net = Net()
net = net.to(device)
other = LogNet().to(device)
window = Window()
window = window.cuda()
criterion = nn.CrossEntropyLoss()
for epoch in range(3):
    net = net.train()
    for x, y in loader:
        criterion(net(x), y).backward()
        criterion(other(x), y).backward()
        criterion(window(x), y).backward()
""",
    # A library trainer given the module and the criterion (skorch's NeuralNet and the like)
    # applies one to the other. Silent: skorch's NLLLoss path takes the log of
    # probabilities itself, a module returning logits, and a function of this file
    # (its body says where the output goes).
    "library.py": """
import torch.nn as nn
import torch.nn.functional as F
import wandb
from skorch import NeuralNetClassifier, NeuralNetBinaryClassifier


class Probs(nn.Module):
    def __init__(self):
        super().__init__()
        self.output = nn.Linear(10, 2)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, X, **kwargs):
        return self.softmax(self.output(X))


class Scores(nn.Module):
    def __init__(self):
        super().__init__()
        self.output = nn.Linear(10, 1)

    def forward(self, X):
        return self.output(X).sigmoid()


class Logits(nn.Module):
    def __init__(self):
        super().__init__()
        self.output = nn.Linear(10, 2)

    def forward(self, X):
        return self.output(X)


def fit(module, criterion, loader):
    for x, y in loader:
        out = module(x)
        criterion(F.log_softmax(out.log(), 1), y).backward()


net = NeuralNetClassifier(Probs, criterion=nn.CrossEntropyLoss, max_epochs=10)
binary = NeuralNetBinaryClassifier(Scores(), criterion=nn.BCEWithLogitsLoss())
default = NeuralNetClassifier(Probs, max_epochs=10)
nll = NeuralNetClassifier(Probs, criterion=nn.NLLLoss)
logits = NeuralNetClassifier(Logits, criterion=nn.CrossEntropyLoss)
fit(Probs(), nn.CrossEntropyLoss(), loader)
print(Probs(), nn.CrossEntropyLoss())
wandb.watch(Probs(), nn.CrossEntropyLoss(), log="all")
""",
    # The loss function held as an attribute (`self.loss_func = F.bce_with_logits`) and a
    # method of the class that hands its argument to it (`self.loss(logits, y)`).
    "method_loss.py": """
import torch
import torch.nn as nn
import torch.nn.functional as F
import lightning as L


class Bug(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)
        self.loss_func = F.binary_cross_entropy_with_logits

    def forward(self, x):
        return torch.sigmoid(self.fc(x))

    def loss(self, logits, labels):
        return self.loss_func(input=logits, target=labels)

    def training_step(self, batch, batch_idx):
        x, y = batch
        y_logits = self.forward(x)
        return self.loss(y_logits, y)


class Fixed(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)
        self.loss_func = F.binary_cross_entropy_with_logits

    def forward(self, x):
        return self.fc(x)

    def loss(self, logits, labels):
        return self.loss_func(input=logits, target=labels)

    def training_step(self, batch, batch_idx):
        x, y = batch
        y_logits = self.forward(x)
        y_scores = torch.sigmoid(y_logits)
        self.log("acc", ((y_scores > 0.5) == y).float().mean())
        return self.loss(y_logits, y)
""",
    # A notebook rebinding its names section by section: only the bindings that reach the
    # call count (`loss_fn` was an MSELoss, `model` a Linear, before the softmax model).
    "sections.py": """
import torch.nn as nn


class Probs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.fc(x)
        x = nn.Softmax(dim=1)(x)
        return x


model = nn.Linear(4, 1)
loss_fn = nn.MSELoss()
for x, y in loader:
    loss_fn(model(x), y).backward()

model = Probs()
loss_fn = nn.CrossEntropyLoss()
for x, y in loader:
    loss_fn(model(x), y).backward()

model = nn.Linear(4, 3)
for x, y in loader:
    loss_fn(model(x), y).backward()
""",
    # Models built by a factory function (here or in another module) or by add_module.
    "factories.py": """
import torch
import torch.nn as nn


def build_model(n_in, n_out):
    return nn.Sequential(nn.Linear(n_in, 64), nn.ReLU(), nn.Linear(64, n_out), nn.Softmax(dim=1))


def build_plain(n_in, n_out):
    model = nn.Sequential(nn.Linear(n_in, 64), nn.ReLU(), nn.Linear(64, n_out))
    return model
""",
    "use_factories.py": """
import torch
import torch.nn as nn
from factories import build_model, build_plain

criterion = nn.CrossEntropyLoss()
model = build_model(4, 3)
plain = build_plain(4, 3)
for x, y in loader:
    criterion(model(x), y).backward()
    criterion(plain(x), y).backward()

seq = torch.nn.Sequential()
seq.add_module("linear", torch.nn.Linear(4, 3))
seq.add_module("softmax", torch.nn.Softmax(dim=1))
logits = torch.nn.Sequential()
logits.add_module("softmax", torch.nn.Softmax(dim=1))
logits.add_module("linear", torch.nn.Linear(3, 3))
for x, y in loader:
    criterion(seq(x), y).backward()
    criterion(logits(x), y).backward()
""",
    # nn.Sequential(*layers): the layer appended last (a softmax), or the list's last (logits).
    "layer_lists.py": """
import torch.nn as nn


def make(n_in, n_out, hidden=(64, 32)):
    layers = []
    for h in hidden:
        layers.append(nn.Linear(n_in, h))
        layers.append(nn.ReLU())
        n_in = h
    layers.append(nn.Linear(n_in, n_out))
    layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


criterion = nn.CrossEntropyLoss()
model = make(4, 3)
net = Net()
for x, y in loader:
    criterion(model(x), y).backward()
    criterion(net(x), y).backward()
""",
    # A trainer class given the model in its constructor (`self.model = model`), built in
    # another module: the models its callers pass (all of them must end in the softmax).
    "trainers.py": """
import torch.nn as nn


class Trainer:
    def __init__(self, model, loader, lr=0.1):
        self.model = model
        self.loader = loader
        self.criterion = nn.CrossEntropyLoss()

    def fit(self):
        for x, y in self.loader:
            loss = self.criterion(self.model(x), y)
            loss.backward()


class Mixed:
    def __init__(self, model, loader):
        self.model = model
        self.loader = loader

    def fit(self):
        for x, y in self.loader:
            nn.functional.cross_entropy(self.model(x), y).backward()
""",
    "main_trainers.py": """
import model
from trainers import Trainer, Mixed

Trainer(model.Classifier(), loader).fit()
net = model.Classifier()
Mixed(net, loader).fit()
Mixed(model.Plain(), loader).fit()
""",
    # A layer held as `self.softmax` is whatever it was built as (here nn.LogSoftmax).
    "nll_attribute.py": """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.softmax = nn.LogSoftmax(dim=1)
        self.probs = nn.Softmax(dim=1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        ok = F.nll_loss(self.softmax(self.fc(x)), y)
        bad = F.nll_loss(self.probs(self.fc(x)), y)
        return ok + bad
""",
}

EXPECTED_HANDED = {
    "model.py": [],
    # source_only: a Classifier from main.py; fit: a CrossEntropyLoss from main.py; mixed: its
    # own cross_entropy, and one call hands it a Classifier (session 18: one caller's run is
    # enough when the loss is the function's own). Silent: fit_any gets a CrossEntropyLoss and
    # a user loss (the callers disagree on the loss).
    "train.py": [("TRN301", 9), ("TRN301", 15), ("TRN301", 22)],
    "main.py": [],
    # train_model and train_net flagged; train_either's callers disagree.
    "notebook.py": [("TRN301", 21), ("TRN301", 29)],
    # Only the softmax model; LogNet's log_softmax leaves the loss unchanged.
    "rebound.py": [("TRN301", 38)],
    "library.py": [("TRN301", 41), ("TRN302", 42)],
    "method_loss.py": [("TRN302", 22)],
    "sections.py": [("TRN301", 23)],
    "factories.py": [],
    "use_factories.py": [("TRN301", 9), ("TRN301", 19)],
    "layer_lists.py": [("TRN301", 29)],
    # Trainer gets a Classifier. Mixed gets a Classifier and a Plain: each construction is an
    # object of its own, and which one is trained is not known (silent).
    "trainers.py": [("TRN301", 12)],
    "main_trainers.py": [],
    "nll_attribute.py": [("TRN303", 15)],
}

KEYED = {
    # A model returning a dict: the element that holds the sigmoid, not the one with logits.
    "own.py": """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Lane(nn.Module):
    def __init__(self):
        super().__init__()
        self.seg = nn.Conv2d(4, 5, 1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        output = {'seg': self.seg(x)}
        output['exist'] = torch.sigmoid(self.fc(x.flatten(1)))
        return output

    def training_step(self, batch, batch_idx):
        x, y, e = batch
        out = self(x)
        seg = F.cross_entropy(out['seg'], y)
        return seg + F.binary_cross_entropy_with_logits(out['exist'], e)


class Det(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        logits = self.fc(x)
        return {'logits': logits, 'scores': torch.sigmoid(logits)}

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.binary_cross_entropy_with_logits(self(x)['logits'], y)
""",
    # A head built by a registry: the loss reads output['exist'] from a dict it is handed.
    # (The package imports its heads so that they register: that import connects them.)
    "heads/__init__.py": "from .exist_head import ExistHead\nfrom .lane_seg import LaneSeg\n",
    "heads/exist_head.py": """
import torch
from torch import nn


class ExistHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.sigmoid(self.fc(x))
        output = {'exist': x}
        return output
""",
    "heads/lane_seg.py": """
import torch
from torch import nn
from .registry import build_head


class LaneSeg(nn.Module):
    def __init__(self, exist):
        super().__init__()
        self.exist = build_head(exist)

    def loss(self, output, batch):
        criterion_exist = torch.nn.BCEWithLogitsLoss().cuda()
        return criterion_exist(output['exist'], batch['lane_exist'].float())

    def forward(self, x):
        output = {}
        output.update(self.exist(x))
        return output
""",
}

# The look-alike project: another head returns logits under the same key.
KEYED_OK = {
    "heads/__init__.py": "from .exist_head import ExistHead\nfrom .exist_logits import ExistLogits\n"
                         "from .lane_seg import LaneSeg\n",
    "heads/exist_head.py": KEYED["heads/exist_head.py"],
    "heads/exist_logits.py": """
from torch import nn


class ExistLogits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return {'exist': self.fc(x)}
""",
    "heads/lane_seg.py": KEYED["heads/lane_seg.py"],
}

EXPECTED_KEYED = {
    "own.py": [("TRN302", 21)],
    "heads/__init__.py": [],
    "heads/exist_head.py": [],
    "heads/lane_seg.py": [("TRN302", 13)],
}

METERS = {
    "metrics.py": """
class LossesTrack:
    def __init__(self):
        self.train_losses = {}
        self.count = 0

    def update_train_losses(self, loss):
        for key in loss:
            self.train_losses[key] += loss[key]
        self.count += 1

    def update_numbers(self, loss):
        for key in loss:
            self.train_losses[key] += loss[key].item()


class Metrics:
    def __init__(self, n):
        self.losses_track = LossesTrack()
""",
    "train.py": """
from metrics import Metrics


def train(model, optimizer, loader):
    metrics = Metrics(3)
    for data in loader:
        loss = model.compute_loss(data)
        optimizer.zero_grad()
        loss['total'].backward()
        optimizer.step()
        metrics.losses_track.update_train_losses(loss)
        metrics.losses_track.update_numbers(loss)
        numbers = {k: v.item() for k, v in loss.items()}
        metrics.losses_track.update_train_losses(numbers)
""",
}

EXPECTED_METERS = {"metrics.py": [], "train.py": [("TRN405", 11)]}

# A wrapper model whose forward calls the model it is given: its output is what every
# caller's model gives, callers in other modules included (a summary must not decide it
# from this file alone).
WRAPPER = """
import torch.nn as nn
import torch.nn.functional as F


class Probs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


class Wrapper(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


wrapped = Wrapper(Probs())
for x, y in loader:
    F.cross_entropy(wrapped(x), y).backward()
"""
WRAPPED_ELSEWHERE = {"wrapper.py": WRAPPER, "other.py": """
import torch.nn as nn
from wrapper import Wrapper

logits = Wrapper(nn.Linear(4, 3))
"""}


@pytest.fixture(scope="module")
def handed(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_handed"), HANDED, "TRN301,TRN302,TRN303")


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_keyed"), KEYED, "TRN301,TRN302,TRN303")


@pytest.fixture(scope="module")
def keyed_ok(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("loss_keyed_ok"), KEYED_OK, "TRN301,TRN302,TRN303")


@pytest.fixture(scope="module")
def meters(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("meters"), METERS, "TRN405")


@pytest.mark.parametrize("name", sorted(EXPECTED_HANDED))
def test_what_callers_hand_to_a_training_function(handed, name):
    assert codes_lines(handed[name]) == EXPECTED_HANDED[name]


def test_messages_name_the_callers(handed):
    by_line = {f["line"]: f["message"] for f in handed["train.py"]}
    assert "Classifier" in by_line[9] and "callers" in by_line[9]
    assert "every caller of `fit()`" in by_line[22]


@pytest.mark.parametrize("name", sorted(EXPECTED_KEYED))
def test_dict_elements_a_model_returns(keyed, name):
    assert codes_lines(keyed[name]) == EXPECTED_KEYED[name]


def test_a_model_returning_logits_under_the_key_silences_it(keyed_ok):
    assert all(not findings for findings in keyed_ok.values())


@pytest.mark.parametrize("name", sorted(EXPECTED_METERS))
def test_meter_of_another_module(meters, name):
    assert codes_lines(meters[name]) == EXPECTED_METERS[name]
    if meters[name]:
        assert "LossesTrack" in meters[name][0]["message"]


def test_a_wrapped_model_is_what_its_construction_wraps(tmp_path_factory):
    alone = run_cases(tmp_path_factory.mktemp("wrapped_alone"), {"wrapper.py": WRAPPER}, "TRN301")
    assert codes_lines(alone["wrapper.py"]) == [("TRN301", 25)]
    elsewhere = run_cases(tmp_path_factory.mktemp("wrapped_elsewhere"), WRAPPED_ELSEWHERE, "TRN301")
    # other.py wraps a Linear (logits), but in another instance: the one the loss sees is
    # built here around Probs, and its construction is what is read (test_loss_composed.py).
    assert codes_lines(elsewhere["wrapper.py"]) == [("TRN301", 25)]

"""TRN301/302 where what reaches the loss travels further than one hop (session 12, code
read from fresh repositories): a criterion handed on through two functions, a user loss
that indexes its input, a model class named through a package's `__init__`, and an
evaluator installed on a hook's object by another hook. Each family with the correct
look-alike a naive matcher would flag, through the real command."""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

MODELS = """
import torch.nn as nn


class ConvLstm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.lstm = nn.LSTM(4, 4)
        self.output_layer = nn.Sequential(nn.Linear(4, n), nn.Softmax(dim=-1))

    def forward(self, x):
        out = self.lstm(x)
        return self.output_layer(out)


class Plain(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(4, n)

    def forward(self, x):
        return self.fc(x)
"""

# The loss is made in train.py, handed to train_model(), which hands it on to step().
CHAINED = {
    "models.py": MODELS,
    "steps.py": """
import torch


def step(model, images, labels, criterion, mode=''):
    output = model(images)
    loss = criterion(output, labels)
    return loss


def train_model(model, loader, optimizer, criterion):
    for images, labels in loader:
        loss = step(model, images, labels, criterion, mode='train')
        loss.backward()
        optimizer.step()


def test_model(model, loader, criterion):
    with torch.no_grad():
        for images, labels in loader:
            step(model, images, labels, criterion, mode='test')


def plain_step(model, images, labels, criterion):
    return criterion(model(images), labels)


def train_plain(model, loader, criterion):
    for images, labels in loader:
        plain_step(model, images, labels, criterion).backward()


def smooth_step(model, images, labels, criterion):
    return criterion(model(images), labels)


def train_smooth(model, loader, criterion):
    for images, labels in loader:
        smooth_step(model, images, labels, criterion).backward()
""",
    "train.py": """
import torch
import torch.nn as nn
from models import ConvLstm, Plain
from steps import train_model, test_model, train_plain, train_smooth
from losses import SmoothLoss

model = ConvLstm(3)
model = model.to('cuda')
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters())
for epoch in range(3):
    train_model(model, loader, optimizer, criterion)
    test_model(model, loader, criterion)

plain = Plain(3).to('cuda')
train_plain(plain, loader, nn.CrossEntropyLoss())
train_smooth(model, loader, SmoothLoss())
""",
}
EXPECTED_CHAINED = {
    # Through train_model and test_model, both handed the CrossEntropyLoss and the ConvLstm.
    "steps.py": [("TRN301", 6)],
    "models.py": [],
    "train.py": [],
}

# A capsule network's loss takes `classes[:, i, :]` of what it is given.
CAPSULES = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class CapsuleNet(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fea = nn.Linear(4, n)

    def forward(self, x):
        z = self.fea(x)
        classes = F.softmax(z, dim=-1)
        class_ = classes.detach().mean(dim=1)
        return {returned}, class_


class CapsuleLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.cross_entropy_loss = nn.CrossEntropyLoss()

    def forward(self, classes, labels):
        loss_t = self.cross_entropy_loss(classes[:, 0, :], labels)
        for i in range(classes.size(1) - 1):
            loss_t = loss_t + self.cross_entropy_loss(classes[:, i + 1, :], labels)
        return loss_t
"""
CAPSULE_TRAIN = """
import torch
import model_big

capnet = model_big.CapsuleNet(4)
capsule_loss = model_big.CapsuleLoss()
for x, labels_data in loader:
    classes, class_ = capnet(x)
    loss_dis = capsule_loss(classes, labels_data)
    loss_dis.backward()
"""

EVALUATOR = """
from torch import nn


class SSLEvaluator(nn.Module):
    def __init__(self, n_input, n_classes, n_hidden=512):
        super().__init__()
        if n_hidden is None:
            self.block_forward = nn.Sequential(nn.Linear(n_input, n_classes){last})
        else:
            self.block_forward = nn.Sequential(
                nn.Linear(n_input, n_hidden),
                nn.ReLU(inplace=True),
                nn.Linear(n_hidden, n_classes){last},
            )

    def forward(self, x):
        logits = self.block_forward(x)
        return logits
"""
FINETUNER = """
import pytorch_lightning as pl
import torch.nn.functional as F

from pkg.ssl import SSLEvaluator


class SSLFineTuner(pl.LightningModule):
    def __init__(self, backbone, in_features=2048, num_classes=10):
        super().__init__()
        self.backbone = backbone
        self.linear_layer = SSLEvaluator(n_input=in_features, n_classes=num_classes)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.linear_layer(self.backbone(x))
        return F.cross_entropy(logits, y)
"""
CALLBACK = """
import torch
from pytorch_lightning import Callback
from torch.nn import functional as F


class OnlineEvaluator(Callback):
    def __init__(self, z_dim, num_classes):
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes

    def on_fit_start(self, trainer, pl_module):
        from pkg.ssl.evaluator import SSLEvaluator

        pl_module.non_linear_evaluator = SSLEvaluator(self.z_dim, self.num_classes).to(pl_module.device)
        self.optimizer = torch.optim.Adam(pl_module.non_linear_evaluator.parameters(), lr=1e-4)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        x, y = batch
        representations = pl_module(x).detach()
        mlp_preds = pl_module.non_linear_evaluator(representations)
        mlp_loss = F.cross_entropy(mlp_preds, y)
        mlp_loss.backward()

    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx):
        # Another parameter name: which object this is, the file does not say.
        x, y = batch
        preds = module.non_linear_evaluator(module(x))
        F.cross_entropy(preds, y)
"""


def _package(last: str) -> dict:
    return {
        "pkg/__init__.py": "",
        "pkg/ssl/__init__.py": "from pkg.ssl.evaluator import SSLEvaluator  # noqa: F401\n\n__all__ = ['SSLEvaluator']\n",
        "pkg/ssl/evaluator.py": EVALUATOR.format(last=last),
        "pkg/ssl/finetuner.py": FINETUNER,
        "pkg/callbacks/__init__.py": "",
        "pkg/callbacks/online.py": CALLBACK,
    }


SELECT = "TRN301,TRN302,TRN303"


@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    cases = dict(CHAINED, **{"losses.py": "import torch.nn as nn\n\n\nclass SmoothLoss(nn.Module):\n"
                                          "    def forward(self, x, y):\n        return (x - y).abs().mean()\n"})
    return run_cases(tmp_path_factory.mktemp("loss_chained"), cases, SELECT)


@pytest.mark.parametrize("name", sorted(EXPECTED_CHAINED))
def test_a_criterion_handed_on_through_two_functions(chained, name):
    # plain_step (logits) and smooth_step (a loss of the user's, not a built-in) stay silent.
    assert codes_lines(chained[name]) == EXPECTED_CHAINED[name]
    if chained[name]:
        message = chained[name][0]["message"]
        assert "every caller of `step()`" in message and "ConvLstm" in message


@pytest.mark.parametrize("returned, expected", [("classes", [("TRN301", 8)]), ("z", [])])
def test_a_user_loss_that_indexes_its_input(tmp_path, returned, expected):
    # The fixed forward still computes the softmax but returns the logits first.
    found = run_cases(tmp_path, {"model_big.py": CAPSULES.format(returned=returned),
                                 "train_binary.py": CAPSULE_TRAIN}, SELECT)
    assert codes_lines(found["train_binary.py"]) == expected
    assert found["model_big.py"] == []


@pytest.mark.parametrize("last, expected", [(", nn.Softmax()", True), ("", False)])
def test_a_class_named_through_a_package_and_a_hooks_object(tmp_path, last, expected):
    found = run_cases(tmp_path, _package(last), SELECT)
    assert codes_lines(found["pkg/ssl/finetuner.py"]) == ([("TRN301", 16)] if expected else [])
    # The evaluator installed on pl_module by on_fit_start, read back in the batch hook; the
    # hook whose parameter has another name is not assumed to hold the same object.
    assert codes_lines(found["pkg/callbacks/online.py"]) == ([("TRN301", 22)] if expected else [])


WRAPPED = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


class LogitHead(nn.Module):
    # Computes its own output from the wrapped model's: not the same forward.
    def __init__(self, body):
        super().__init__()
        self.body = body
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(self.body(x))


model = Net()
model = nn.DataParallel(model).cuda()
criterion = nn.CrossEntropyLoss()
criterion = criterion.cuda()
for x, y in loader:
    loss = criterion(model(x), y)
    loss.backward()

ddp = torch.nn.parallel.DistributedDataParallel(Net().cuda(), device_ids=[0])
for x, y in loader:
    F.cross_entropy(ddp(x), y).backward()

plain = nn.DataParallel(Plain()).cuda()
headed = LogitHead(Net())
for x, y in loader:
    criterion(plain(x), y).backward()
    criterion(headed(x), y).backward()


def train(net, loss_fn, loader):
    loss_fn = loss_fn.to('cuda')
    for x, y in loader:
        loss_fn(net(x), y).backward()


train(torch.compile(Net()), nn.CrossEntropyLoss(), loader)
"""


def test_wrapped_models_and_moved_criteria(tmp_path):
    # DataParallel, DistributedDataParallel and torch.compile compute the model's own forward;
    # `criterion = criterion.cuda()` is the same loss. A wrapper of the user's (LogitHead)
    # computes something else, and a wrapped Plain model returns logits.
    found = run_cases(tmp_path, {"wrapped.py": WRAPPED}, SELECT)
    assert codes_lines(found["wrapped.py"]) == [("TRN301", 40), ("TRN301", 45), ("TRN301", 57)]


FINE_TUNED = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision import models


class BasicNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 2048)
        self.fc = nn.Sequential(nn.Linear(2048, 3), nn.Softmax(dim=1))

    def forward(self, x):
        x = self.body(x)
        return self.fc(x)


net = models.resnet18(pretrained=True)
net.fc = nn.Sequential(nn.Linear(512, 10), nn.Softmax(dim=1))
net = net.cuda()
criterion = nn.CrossEntropyLoss()
for inputs, labels in loader:
    logps = net.forward(inputs)
    loss = criterion(logps, labels)
    loss.backward()

binary = torchvision.models.densenet121(pretrained=True)
binary.classifier = nn.Sequential(nn.Linear(1024, 1), nn.Sigmoid())
for inputs, labels in loader:
    F.binary_cross_entropy_with_logits(binary(inputs).squeeze(1), labels).backward()

# Look-alikes: a plain head; a softmax class head swapped for a Linear before training;
# a softmax head swapped in only after training, for inference.
plain = models.densenet121(pretrained=True)
plain.classifier = nn.Linear(1024, 10)
own = BasicNet()
own.fc = nn.Linear(2048, 3)
later = models.resnet50(pretrained=True)
for inputs, labels in loader:
    criterion(plain(inputs), labels).backward()
    criterion(own(inputs), labels).backward()
    criterion(later(inputs), labels).backward()
later.fc = nn.Sequential(later.fc, nn.Softmax(dim=1))
"""


def test_a_fine_tuned_models_replaced_head(tmp_path):
    # `net.forward(x)` is `net(x)`; the head set on a torchvision model (or on a class whose
    # forward ends with that attribute) decides what the model returns.
    found = run_cases(tmp_path, {"finetune.py": FINE_TUNED}, SELECT)
    assert codes_lines(found["finetune.py"]) == [("TRN301", 25), ("TRN302", 31)]


INDEXED = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        feats = self.fc(x)
        return F.softmax(feats, dim=1), feats


act = nn.Softmax(dim=1)
seq = nn.Sequential(nn.Linear(4, 3), act)
relu = nn.ReLU()
head = nn.Sequential(nn.Linear(4, 3), relu, nn.Linear(3, 3))
model = Net()
criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(model(x)[0], y).backward()
    criterion(seq(x), y).backward()
    out = model(x)
    criterion(out[1], y).backward()
    criterion(head(x), y).backward()
"""


def test_an_indexed_tuple_output_and_a_named_last_layer(tmp_path):
    # Element 0 of the returned tuple is the softmax, element 1 the logits; a Sequential's
    # last layer may be a name bound to nn.Softmax (or to something else).
    found = run_cases(tmp_path, {"indexed.py": INDEXED}, SELECT)
    assert codes_lines(found["indexed.py"]) == [("TRN301", 22), ("TRN301", 23)]


FACTORIES = {
    "losses.py": """
import torch.nn as nn


def get_loss():
    return nn.CrossEntropyLoss()


def pick_loss(name):
    if name == 'nll':
        return nn.NLLLoss()
    return nn.CrossEntropyLoss()


def maybe_loss(name):
    if name == 'ce':
        return nn.CrossEntropyLoss()
""",
    "train.py": """
import torch.nn as nn
import torch.nn.functional as F
from losses import get_loss, pick_loss, maybe_loss


def make_criterion():
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    return criterion.cuda()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


model = Net()
criterion = make_criterion()
imported = get_loss()
chosen = pick_loss(args.loss)
maybe = maybe_loss(args.loss)
for x, y in loader:
    criterion(model(x), y).backward()
    imported(model(x), y).backward()
    chosen(model(x), y).backward()
    maybe(model(x), y).backward()
""",
}


def test_a_criterion_built_by_a_factory_function(tmp_path):
    # A function returning one built-in loss on every path, here or in another module; one that
    # returns another loss on some path, or may fall off its end, says nothing.
    found = run_cases(tmp_path, FACTORIES, SELECT)
    assert codes_lines(found["train.py"]) == [("TRN301", 26), ("TRN301", 27)]
    assert "via `get_loss()` of losses" in found["train.py"][1]["message"]


DELEGATED = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def classify(self, h):
        return F.softmax(self.fc(h), dim=1)

    def forward(self, x):
        return self.classify(x * 2)


class Switch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def classify(self, h):
        if self.training:
            return self.fc(h)
        return F.softmax(self.fc(h), dim=1)

    def forward(self, x):
        return self.classify(x)


criterion = nn.CrossEntropyLoss()
for x, y in loader:
    criterion(Net()(x), y).backward()
    criterion(Switch()(x), y).backward()
"""


def test_a_forward_that_delegates_to_another_method(tmp_path):
    # Switch returns logits in training and probabilities only in eval mode: correct.
    found = run_cases(tmp_path, {"delegated.py": DELEGATED}, SELECT)
    assert codes_lines(found["delegated.py"]) == [("TRN301", 33)]


DEFAULTED = """
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), dim=1)


def train(model, loader, criterion=nn.CrossEntropyLoss()):
    for x, y in loader:
        criterion(model(x), y).backward()


def train_any(model, loader, criterion=nn.CrossEntropyLoss()):
    for x, y in loader:
        criterion(model(x), y).backward()


train(Net(), loader)
train(Net(), loader, criterion=nn.CrossEntropyLoss(label_smoothing=0.1))
train_any(Net(), loader, SmoothedNLL())
train_any(Net(), loader)
"""


def test_a_criterion_left_to_its_default(tmp_path):
    # train_any is given another loss by one call: what its criterion is depends on the call.
    found = run_cases(tmp_path, {"defaulted.py": DEFAULTED}, SELECT)
    assert codes_lines(found["defaulted.py"]) == [("TRN301", 16)]
    assert "CrossEntropyLoss" in found["defaulted.py"][0]["message"]

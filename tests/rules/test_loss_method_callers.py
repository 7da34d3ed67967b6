"""TRN301 where the model reaches the loss through a method of a class of another module, a deep
copy, or a caller's branches (the federated-learning shape: `net = MLP() if ... else CNN()` in
main.py, `LocalUpdate(args).train(net=copy.deepcopy(net))` whose loss is in models/update.py)."""

from __future__ import annotations

from tests.rules._core_cases import codes_lines, run_cases

NETS = """
import torch.nn as nn
import torch.nn.functional as F

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.fc(x))

class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.log_softmax(self.fc(x), dim=1)

class Logits(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)
"""

UPDATE = """
import torch.nn as nn

class LocalUpdate(object):
    def __init__(self, args):
        self.loss_func = nn.CrossEntropyLoss()

    def train(self, net):
        for x, y in loader:
            out = net(x)
            loss = self.loss_func(out, y)
            loss.backward()
"""


def _update_findings(tmp_path, main: str) -> list:
    found = run_cases(tmp_path, {"models/__init__.py": "", "models/nets.py": NETS, "models/update.py": UPDATE,
                                 "main.py": main}, "TRN301")
    return codes_lines(found["models/update.py"])


def test_model_handed_to_a_method_of_another_module(tmp_path):
    main = """
import copy
from models.nets import MLP
from models.update import LocalUpdate

net_glob = MLP().to('cpu')
for it in range(3):
    local = LocalUpdate(args=args)
    w = local.train(net=copy.deepcopy(net_glob).to('cpu'))
"""
    assert _update_findings(tmp_path, main) == [("TRN301", 10)]


def test_logits_model_handed_to_a_method_is_silent(tmp_path):
    main = """
from models.nets import Logits
from models.update import LocalUpdate

net_glob = Logits()
LocalUpdate(args).train(net_glob)
"""
    assert _update_findings(tmp_path, main) == []


def test_one_branch_of_the_callers_builds_the_softmax_model(tmp_path):
    main = """
import copy
from models.nets import CNN, MLP
from models.update import LocalUpdate

if args.model == 'cnn':
    net_glob = CNN().to('cpu')
elif args.model == 'mlp':
    net_glob = MLP().to('cpu')
local = LocalUpdate(args=args)
local.train(net=copy.deepcopy(net_glob))
"""
    assert _update_findings(tmp_path, main) == [("TRN301", 10)]


def test_branches_ending_in_log_softmax_or_logits_are_silent(tmp_path):
    main = """
from models.nets import CNN, Logits
from models.update import LocalUpdate

if args.model == 'cnn':
    net_glob = CNN()
else:
    net_glob = Logits()
LocalUpdate(args).train(net=net_glob)
"""
    assert _update_findings(tmp_path, main) == []


def test_sequential_rebinding_is_not_a_choice_of_branches(tmp_path):
    # Two builds one after the other: the second replaces the first, no branch picks MLP.
    main = """
from models.nets import Logits, MLP
from models.update import LocalUpdate

net_glob = MLP()
net_glob = Logits()
LocalUpdate(args).train(net=net_glob)
"""
    assert _update_findings(tmp_path, main) == []


def test_deep_copy_of_the_model_keeps_its_class(tmp_path):
    found = run_cases(tmp_path, {"train.py": NETS + """
import copy

def fit(net, loader):
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        loss = criterion(net(x), y)

fit(copy.deepcopy(MLP()), loader)
fit(copy.deepcopy(Logits()), loader)
"""}, "TRN301")
    # The callers pass different models to a function applying its own loss: the call with
    # the MLP copy feeds it probabilities (session 18; before, disagreeing callers kept it silent).
    assert codes_lines(found["train.py"]) == [("TRN301", 34)]


def test_deep_copy_handed_alone(tmp_path):
    found = run_cases(tmp_path, {"train.py": NETS + """
import copy

def fit(net, loader):
    criterion = nn.CrossEntropyLoss()
    for x, y in loader:
        loss = criterion(net(x), y)

model = MLP()
fit(copy.deepcopy(model), loader)
"""}, "TRN301")
    assert codes_lines(found["train.py"]) == [("TRN301", 34)]

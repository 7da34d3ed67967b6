"""TRN101-TRN103 along paths and across modules, through the real command.

Each family has its bug and the correct look-alike a naive matcher would flag:
evaluation after `model.eval()` in a function that also trains; a train-or-evaluate
helper chosen by a flag; a step runner whose backward is tied to its stage; training
loops that run at least once; `DataParallel` keeping the wrapped model's mode; a local
alias of `self.model`; eval mode set for the whole run before training; TensorFlow
models; model classes and functions of another module (`import`, `from m import *`).
"""

from __future__ import annotations

import pytest

from tests.rules._core_cases import codes_lines, run_cases

HEAD = "import torch\nimport torch.nn as nn\n\n"
DROPOUT_NET = "nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))"

# Full-batch training (graph networks): one function trains, then validates after eval().
SWITCHED = HEAD + f"""
model = {DROPOUT_NET}
optimizer = torch.optim.Adam(model.parameters())

def train(epoch):
    model.train()
    optimizer.zero_grad()
    output = model(features)
    loss = nn.functional.cross_entropy(output[idx_train], labels[idx_train])
    loss.backward()
    optimizer.step()
    model.eval()
    {{validate}}
    print(nn.functional.cross_entropy(output[idx_val], labels[idx_val]).item())

for epoch in range(10):
    train(epoch)
"""

# One helper trains or evaluates, chosen by a flag; the evaluation calls pass train=False.
TRAIN_OR_EVAL = HEAD + f"""
def run_epoch(model, loader, optimizer=None, train=False):
    if train:
        model.train()
    else:
        model.eval()
    total = 0.0
    for x, y in loader:
        if train:
            optimizer.zero_grad()
        with {{grad}}:
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
        total += loss.item()
        if train:
            loss.backward()
            optimizer.step()
    return total

model = {DROPOUT_NET}
optimizer = torch.optim.Adam(model.parameters())
for epoch in range(10):
    run_epoch(model, train_loader, optimizer, True)
    run_epoch(model, valid_loader)
"""

# A step runner: back-propagates only in the training stage, which train_step serves.
STEP_RUNNER = HEAD + f"""
class StepRunner:
    def __init__(self, net, loss_fn, stage="train", optimizer=None):
        self.net, self.loss_fn, self.stage, self.optimizer = net, loss_fn, stage, optimizer

    def step(self, features, labels):
        preds = self.net(features)
        loss = self.loss_fn(preds, labels)
        if self.optimizer is not None and self.stage == "train":
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad()
        return loss.item()

    def train_step(self, features, labels):
        self.net.{{train_switch}}()
        return self.step(features, labels)

    @torch.no_grad()
    def eval_step(self, features, labels):
        self.net.eval()
        return self.step(features, labels)

    def __call__(self, features, labels):
        if self.stage == "train":
            return self.train_step(features, labels)
        else:
            return self.eval_step(features, labels)
"""

# The test set is scored after the epoch loop, whose every epoch ends in eval().
AFTER_LOOP = HEAD + f"""
def compute_accuracy(model, loader):
    correct = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
    return correct

model = {DROPOUT_NET}
optimizer = torch.optim.Adam(model.parameters())
for epoch in range(num_epochs):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    {{switch}}
    with torch.no_grad():
        print(compute_accuracy(model, valid_loader))

with torch.no_grad():
    print(compute_accuracy(model, test_loader))
"""

# Batch norm frozen for the whole run (batch size 1), or an epoch-top train() once.
WHOLE_RUN = HEAD + """
net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
{build_switch}
if torch.cuda.is_available():
    net = nn.DataParallel(net)
optimizer = torch.optim.Adam(net.parameters())

def test():
    net.eval()
    with torch.no_grad():
        return [net(x).mean().item() for x, _ in test_loader]

def train():
    {train_switch}
    for epoch in range(80):
        for x, y in train_loader:
            loss = nn.functional.mse_loss(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(test())

if __name__ == "__main__":
    train()
"""

# A trainer method works on a local alias of self.model; evaluation every N steps.
ALIAS = HEAD + f"""
class Classifier:
    def __init__(self):
        self.model = {DROPOUT_NET}

    def evaluate(self, loader):
        model = self.model
        model.eval()
        with torch.no_grad():
            return [model(x).argmax(1) for x, _ in loader]

    def train(self, loader, valid_loader, optimizer):
        model = self.model
        for epoch in range(3):
            model.train()
            for step, (x, y) in enumerate(loader):
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                if step % 100 == 0:
                    print(self.evaluate(valid_loader))
                    {{after_eval}}
"""

TF_NOTEBOOK_CELLS = """
from transformers import AutoTokenizer, AutoModelForQuestionAnswering, TFAutoModelForQuestionAnswering
import torch

tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
model = {first}.from_pretrained("bert-base-uncased")
for question in questions:
    inputs = tokenizer(question, text, return_tensors="pt")
    outputs = model(**inputs)
    print(torch.argmax(outputs.start_logits))
"""

CASES = {
    "switched_bad.py": SWITCHED.format(validate="output = model(features)"),
    "switched_ok.py": SWITCHED.format(validate="with torch.no_grad():\n        output = model(features)"),
    # A frozen model kept in eval mode, its output detached into the loss: never switched.
    "frozen_target_ok.py": HEAD + f"""
target = {DROPOUT_NET}
target.eval()
model = {DROPOUT_NET}
optimizer = torch.optim.Adam(model.parameters())

def train_step(x, y):
    model.train()
    goal = target(x).detach()
    loss = nn.functional.mse_loss(model(x), goal)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
""",
    "train_or_eval_bad.py": TRAIN_OR_EVAL.format(grad="torch.autocast('cpu')"),
    "train_or_eval_ok.py": TRAIN_OR_EVAL.format(grad="torch.set_grad_enabled(train)"),
    "step_runner_ok.py": STEP_RUNNER.format(train_switch="train"),
    "step_runner_bad.py": STEP_RUNNER.format(train_switch="eval"),
    "after_loop_ok.py": AFTER_LOOP.format(switch="model.eval()"),
    "after_loop_bad.py": AFTER_LOOP.format(switch="pass"),
    # DataParallel runs the wrapped model: eval() before wrapping holds.
    "data_parallel_ok.py": HEAD + f"""
net = {DROPOUT_NET}
net.load_state_dict(torch.load("net.pt"))
net.eval()
net = nn.DataParallel(net)
with torch.no_grad():
    print(net(x_test).argmax(1))
""",
    "data_parallel_bad.py": HEAD + f"""
net = {DROPOUT_NET}
net.load_state_dict(torch.load("net.pt"))
net = nn.DataParallel(net)
with torch.no_grad():
    print(net(x_test).argmax(1))
""",
    "whole_run_eval_ok.py": WHOLE_RUN.format(build_switch="net.eval()", train_switch="pass"),
    "epoch_top_once_bad.py": WHOLE_RUN.format(build_switch="", train_switch="net.train()"),
    "alias_bad.py": ALIAS.format(after_eval="pass"),
    "alias_ok.py": ALIAS.format(after_eval="model.train()"),
    "tf_cell_ok.py": TF_NOTEBOOK_CELLS.format(first="TFAutoModelForQuestionAnswering").replace(
        'return_tensors="pt"', 'return_tensors="tf"'),
    "torch_cell_bad.py": TF_NOTEBOOK_CELLS.format(first="AutoModelForQuestionAnswering"),
    # A model class of another module: built here, loaded, scored without eval().
    "captcha/cnn_model.py": HEAD + """
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.Dropout(0.5))

    def forward(self, x):
        return self.layers(x)
""",
    "captcha/plain_model.py": HEAD + """
class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)
""",
    "captcha/score_bad.py": HEAD + """
from cnn_model import CNN

def main():
    cnn = CNN()
    cnn.load_state_dict(torch.load("model.pkl"))
    correct = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (cnn(images).argmax(1) == labels).sum().item()
    print(correct)
""",
    "captcha/score_ok.py": HEAD + """
from cnn_model import CNN

def main():
    cnn = CNN()
    cnn.load_state_dict(torch.load("model.pkl"))
    cnn.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in test_loader:
            correct += (cnn(images).argmax(1) == labels).sum().item()
    print(correct)
""",
    # Nothing in the imported class depends on the mode: info, saying so.
    "captcha/score_plain.py": HEAD + """
from plain_model import Plain

def main():
    net = Plain()
    net.load_state_dict(torch.load("model.pkl"))
    with torch.no_grad():
        for x, y in test_loader:
            print((net(x).argmax(1) == y).float().mean().item())
""",
    # `from utils import *`: the evaluation helper's caller is in another module.
    "stars/utils.py": HEAD + """
def evaluate_model(model, iterator):
    preds = []
    with torch.no_grad():
        for batch in iterator:
            preds.extend(model(batch.text).argmax(1).tolist())
    return preds
""",
    "stars/train.py": HEAD + f"""
from utils import *

model = {DROPOUT_NET}
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for epoch in range(3):
    for batch in train_iterator:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(batch.text), batch.label).backward()
        optimizer.step()
print(evaluate_model(model, test_iterator))
""",
    "stars_ok/helpers.py": HEAD + """
def evaluate_model(model, iterator):
    preds = []
    with torch.no_grad():
        for batch in iterator:
            preds.extend(model(batch.text).argmax(1).tolist())
    return preds
""",
    "stars_ok/main.py": HEAD + f"""
from helpers import *

model = {DROPOUT_NET}
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for epoch in range(3):
    for batch in train_iterator:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(batch.text), batch.label).backward()
        optimizer.step()
model.eval()
print(evaluate_model(model, test_iterator))
""",
}

# Severity: what the evaluated model is built from, through wrappers and builders.
SEVERITY = HEAD + """
from opacus.layers import DPLSTM
from transformers.optimization import get_linear_schedule_with_warmup

class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = DPLSTM(8, 16, batch_first=True)
        self.out = nn.Linear(16, 2){extra}

    def forward(self, x):
        return self.out({hidden})

def build():
    return Tagger()

model = build()
optimizer = torch.optim.Adam(model.parameters())
scheduler = get_linear_schedule_with_warmup(optimizer, 10, 100)
model, optimizer = accelerator.prepare(model, optimizer)
for epoch in range(3):
    for x, y in train_loader:
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    model.eval()
    with torch.no_grad():
        print([model(x).argmax(1) for x, _ in valid_loader])
"""
CASES["severity_mode_free.py"] = SEVERITY.format(extra="", hidden="self.lstm(x)[0]")
# The dropout runs in forward (an attribute forward never reads builds nothing that runs).
CASES["severity_dropout.py"] = SEVERITY.format(extra="\n        self.drop = nn.Dropout(0.2)",
                                               hidden="self.drop(self.lstm(x)[0])")

EXPECTED = {
    # The step runs in eval mode from the second epoch (no train() at the epoch top): one
    # finding at the optimizer step, none at the scheduler's.
    "severity_mode_free.py": [("TRN103", 27)],
    "severity_dropout.py": [("TRN103", 28)],
    "switched_bad.py": [("TRN102", 16)],
    "switched_ok.py": [],
    "frozen_target_ok.py": [],
    "train_or_eval_bad.py": [("TRN102", 15)],
    "train_or_eval_ok.py": [],
    "step_runner_ok.py": [],
    "step_runner_bad.py": [("TRN103", 14)],
    "after_loop_ok.py": [],
    "after_loop_bad.py": [("TRN101", 8)],
    "data_parallel_ok.py": [],
    "data_parallel_bad.py": [("TRN101", 9)],
    "whole_run_eval_ok.py": [],
    "epoch_top_once_bad.py": [("TRN103", 23)],
    "alias_bad.py": [("TRN103", 22)],
    "alias_ok.py": [],
    "tf_cell_ok.py": [],
    "torch_cell_bad.py": [("TRN102", 8)],
    "captcha/cnn_model.py": [],
    "captcha/plain_model.py": [],
    "captcha/score_bad.py": [("TRN101", 13)],
    "captcha/score_ok.py": [],
    "captcha/score_plain.py": [("TRN101", 12)],
    "stars/utils.py": [("TRN101", 9)],
    "stars/train.py": [],
    "stars_ok/helpers.py": [],
    "stars_ok/main.py": [],
}


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("mode_paths"), CASES, "TRN101,TRN102,TRN103")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(found, name):
    assert codes_lines(found[name]) == EXPECTED[name]


def test_imported_class_severity_comes_from_its_layers(found):
    """The class's own module says which layers depend on the mode."""
    (bad,) = found["captcha/score_bad.py"]
    assert bad["severity"] == "error" and "BatchNorm2d" in bad["message"]
    (plain,) = found["captcha/score_plain.py"]
    assert plain["severity"] == "info" and "harmless as written" in plain["message"]


def test_switched_evidence_says_why(found):
    (finding,) = found["switched_bad.py"]
    assert "after `model.eval()`" in finding["message"]


def test_severity_reads_wrappers_builders_and_mirrored_layers(found):
    """`accelerator.prepare` hands the model back, `build()` returns a Tagger, opacus'
    DPLSTM is an LSTM without dropout: info; a Dropout in the class: error."""
    (free,) = found["severity_mode_free.py"]
    assert free["severity"] == "info"
    (dropout,) = found["severity_dropout.py"]
    assert dropout["severity"] == "error"

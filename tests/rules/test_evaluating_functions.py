"""TRN204: a function of another module of the project that evaluates a model, read by what it
does (forward passes of a model it is handed, no backward, no step), not by its name.

- `kNN(epoch, net, memory, trainloader, testloader)` from `scoring.py`, handed the test loader
  each epoch and deciding the best checkpoint: error, though its name says nothing;
- the same helper handed the validation loader: silent;
- an `evaluate()` of another module that back-propagates and steps trains: not an evaluation;
- the test score only printed: info where the name says evaluation, as before; silent where
  only the other module's behaviour says it;
- the same finding whether the script alone or the whole project is checked.
"""

from __future__ import annotations

from tests.conftest import check_json
from tests.rules._core_cases import codes_lines, run_cases

SCORING = """
import torch

def kNN(epoch, net, memory, trainloader, testloader, k):
    net.eval()
    correct = 0
    total = 0
    bank = memory.t()
    with torch.no_grad():
        for x, y in testloader:
            features = net(x)
            dist = torch.mm(features, bank)
            correct += (dist.argmax(1) == y).sum().item()
            total += y.size(0)
    return correct / total


def evaluate(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = model(x).sum()
        loss.backward()
        optimizer.step()
    return 0.0


def validate(model, loader, optimizer=None):
    correct = 0
    for x, y in loader:
        out = model(x)
        if optimizer is not None:
            optimizer.zero_grad()
            out.sum().backward()
            optimizer.step()
        correct += (out.argmax(1) == y).sum().item()
    return correct
"""

MAIN = """
import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from scoring import kNN

def main(net, memory, optimizer):
    train_set = datasets.CIFAR10("data", train=True)
    test_set = datasets.CIFAR10("data", train=False)
    trainloader = DataLoader(train_set, batch_size=128, shuffle=True)
    testloader = DataLoader(test_set, batch_size=100)
    best = 0.0
    for epoch in range(100):
        net.train()
        for x, y in trainloader:
            optimizer.zero_grad()
            net(x).sum().backward()
            optimizer.step()
        {line}
"""

DECIDES = """acc = kNN(epoch, net, memory, trainloader, {loader}, 200)
        if acc > best:
            best = acc
            torch.save(net.state_dict(), "best.pt")"""


def _main(line: str) -> str:
    return MAIN.replace("{line}", line)


def test_unnamed_helper_of_another_module_deciding_on_test(tmp_path):
    # The bug, and its look-alike beside it: the same helper handed the validation loader.
    val_main = _main(DECIDES.replace("{loader}", "valloader")).replace(
        "    best = 0.0", "    valloader = DataLoader(datasets.CIFAR10(\"data\", train=True), batch_size=100)\n"
                         "    best = 0.0")
    found = run_cases(tmp_path, {"scoring.py": SCORING, "train_val.py": val_main,
                                 "train.py": _main(DECIDES.replace("{loader}", "testloader"))}, "TRN204")
    assert [(f["code"], f["line"], f["severity"]) for f in found["train.py"]] == [("TRN204", 18, "error")]
    assert codes_lines(found["train_val.py"]) == []


def test_single_vs_whole_project(tmp_path):
    run_cases(tmp_path, {"scoring.py": SCORING, "train.py": _main(DECIDES.replace("{loader}", "testloader"))},
              "TRN204")
    alone, _ = check_json("--select", "TRN204", "-j", "1", "train.py", cwd=tmp_path)
    assert [(f["code"], f["line"]) for f in alone["findings"]] == [("TRN204", 18)]


def test_helper_that_trains_despite_its_name_is_no_evaluation(tmp_path):
    main = _main(DECIDES.replace("kNN(epoch, net, memory, trainloader, {loader}, 200)",
                                 "evaluate(net, testloader, optimizer)")).replace(
        "from scoring import kNN", "from scoring import evaluate")
    # A dual-mode helper whose step runs only when handed an optimizer: read by its name, as
    # before (called without one, it evaluates).
    switched = _main(DECIDES.replace("kNN(epoch, net, memory, trainloader, {loader}, 200)",
                                     "validate(net, testloader)")).replace(
        "from scoring import kNN", "from scoring import validate")
    found = run_cases(tmp_path, {"scoring.py": SCORING, "train.py": main, "switched.py": switched}, "TRN204")
    assert codes_lines(found["train.py"]) == []
    assert [(f["code"], f["severity"]) for f in found["switched.py"]] == [("TRN204", "error")]


def test_helper_only_printed(tmp_path):
    # Only printed: an evaluation named so stays an info reminder, as before; one known only
    # from what the other module's function does is too weak to speak about.
    printed = _main('print("knn", kNN(epoch, net, memory, trainloader, testloader, 200))')
    named = _main('print("acc", validate(net, testloader))').replace(
        "from scoring import kNN", "from scoring import validate")
    found = run_cases(tmp_path, {"scoring.py": SCORING, "train.py": printed, "named.py": named}, "TRN204")
    assert codes_lines(found["train.py"]) == []
    assert [(f["code"], f["severity"]) for f in found["named.py"]] == [("TRN204", "info")]
